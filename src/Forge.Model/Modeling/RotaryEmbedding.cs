using TorchSharp;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling;

/// <summary>
/// RoPE with the half-split layout (KempnerForge, Llama reference): the first and second halves of
/// each head are the real and imaginary parts, out = [x1 cos - x2 sin, x2 cos + x1 sin].
/// Tables are built once in fp64, stored full-width ([cos, cos] and [-sin, sin]), and cached per
/// activation dtype, so applying them is two multiplies and an add with no per-step table work.
/// Not an nn.Module on purpose: the tables are derived data, not state-dict entries, and must not
/// follow module.to(dtype) down to bf16 before the angles are computed.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor _cos;        // (maxSeqLen, headDim), fp64
    private readonly Tensor _signedSin;  // (maxSeqLen, headDim), fp64
    private readonly Dictionary<ScalarType, (Tensor Cos, Tensor SignedSin)> _byDtype = [];

    public int MaxSeqLen { get; }

    public RotaryEmbedding(int headDim, int maxSeqLen, double theta, Device device)
    {
        if (headDim % 2 != 0) throw new ArgumentException($"RoPE needs an even head_dim, got {headDim}");
        MaxSeqLen = maxSeqLen;
        using var scope = NewDisposeScope();
        var half = headDim / 2;
        var inv = pow(theta, arange(0, half, ScalarType.Float64).Times(-2.0 / headDim));
        var angles = outer(arange(0, maxSeqLen, ScalarType.Float64), inv); // (T, half)
        var cos = angles.cos();
        var sin = angles.sin();
        _cos = cat([cos, cos], 1).to(device).MoveToOuterDisposeScope();
        _signedSin = cat([sin.neg(), sin], 1).to(device).MoveToOuterDisposeScope();
    }

    private (Tensor Cos, Tensor SignedSin) Tables(ScalarType dtype)
    {
        lock (_byDtype)
        {
            if (!_byDtype.TryGetValue(dtype, out var tables))
            {
                // Owned by this object, not by whichever step scope happens to be open on first use.
                tables = (_cos.to(dtype).DetachFromDisposeScope(), _signedSin.to(dtype).DetachFromDisposeScope());
                _byDtype[dtype] = tables;
            }
            return tables;
        }
    }

    /// <summary>Rotates <paramref name="x"/> of shape (B, T, heads, headDim), positions 0..T-1.</summary>
    public Tensor Apply(Tensor x)
    {
        var t = x.shape[1];
        if (t > MaxSeqLen) throw new ArgumentException($"sequence length {t} exceeds model.max_seq_len {MaxSeqLen}");
        var (cosTable, sinTable) = Tables(x.dtype);
        using var scope = NewDisposeScope();
        if (StepKernels.Current.RopeKernel) return RotaryKernel.Apply(x, cosTable.narrow(0, 0, t), sinTable.narrow(0, 0, t)).MoveToOuterDisposeScope();
        var cos = cosTable.narrow(0, 0, t).unsqueeze(1);
        var sin = sinTable.narrow(0, 0, t).unsqueeze(1);
        if (StepKernels.Current.JitFusion && AtenKernels.Enabled) return AtenKernels.Rope(x, cos, sin).MoveToOuterDisposeScope();
        var halves = x.chunk(2, -1);
        var swapped = cat([halves[1], halves[0]], -1);
        return x.mul(cos).PlusInPlace(swapped.mul_(sin)).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _cos.Dispose();
        _signedSin.Dispose();
        foreach (var (cos, sin) in _byDtype.Values)
        {
            cos.Dispose();
            sin.Dispose();
        }
    }
}
