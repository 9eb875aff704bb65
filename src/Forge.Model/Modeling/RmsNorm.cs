using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling;

/// <summary>
/// Root-mean-square norm with a learned scale (no bias, no mean subtraction), through torch's
/// rms_norm: one fused kernel each way on CUDA, with the statistic accumulated in fp32 whatever the
/// compute dtype (a bf16 mean of squares over 2048 features would shift activations).
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    // Field names are the state-dict names (KempnerForge: *.attention_norm.weight).
    public readonly Parameter weight;
    private readonly double _eps;

    public RmsNorm(int dim, double eps, Device? device = null) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(dim, ScalarType.Float32, device));
        _eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        AtenKernels.Enabled ? AtenKernels.RmsNorm(x, weight, _eps) : Composed(x, weight, _eps);

    /// <summary>The same function from elementary ops (eight kernels each way on CUDA).</summary>
    public static Tensor Composed(Tensor x, Tensor weight, double eps)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(ScalarType.Float32);
        var normed = x32.mul(x32.square().mean([-1], keepdim: true).PlusScalarInPlace(eps).rsqrt_());
        return normed.to(x.dtype).mul(weight).MoveToOuterDisposeScope();
    }
}
