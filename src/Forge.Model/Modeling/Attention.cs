using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling;

/// <summary>
/// Grouped-query self-attention (MHA when kv heads == heads) with RoPE and fused SDPA. Causal for
/// the text decoder; the ViT uses the same module unmasked and without RoPE. Heads stay in the
/// (B, T, H, d) layout of the projections and are handed to SDPA as transposed views, so the only
/// copies are the RoPE output and SDPA's own.
/// </summary>
public sealed class Attention : nn.Module
{
    public readonly Linear q_proj;
    public readonly Linear k_proj;
    public readonly Linear v_proj;
    public readonly Linear o_proj;

    private readonly int _heads;
    private readonly int _kvHeads;
    private readonly int _headDim;
    private readonly bool _causal;

    public Attention(int dim, int heads, int kvHeads, bool causal, Device? device = null) : base(nameof(Attention))
    {
        if (dim % heads != 0) throw new ArgumentException($"dim {dim} is not divisible by n_heads {heads}");
        if (heads % kvHeads != 0) throw new ArgumentException($"n_heads {heads} is not a multiple of n_kv_heads {kvHeads}");
        _heads = heads;
        _kvHeads = kvHeads;
        _headDim = dim / heads;
        _causal = causal;
        q_proj = nn.Linear(dim, heads * _headDim, hasBias: false, device: device);
        k_proj = nn.Linear(dim, kvHeads * _headDim, hasBias: false, device: device);
        v_proj = nn.Linear(dim, kvHeads * _headDim, hasBias: false, device: device);
        o_proj = nn.Linear(heads * _headDim, dim, hasBias: false, device: device);
        RegisterComponents();
    }

    /// <param name="x">(B, T, dim).</param>
    /// <param name="rope">Rotary tables, or null for position-free attention (the ViT).</param>
    /// <param name="keyPaddingMask">Optional (B, T) bool, true = a valid key (joint decoder's padded image prefix).</param>
    public Tensor forward(Tensor x, RotaryEmbedding? rope, Tensor? keyPaddingMask = null)
    {
        using var scope = NewDisposeScope();
        var (b, t) = (x.shape[0], x.shape[1]);
        var q = WeightGradGemm.Project(q_proj, x).view(b, t, _heads, _headDim);
        var k = WeightGradGemm.Project(k_proj, x).view(b, t, _kvHeads, _headDim);
        var v = WeightGradGemm.Project(v_proj, x).view(b, t, _kvHeads, _headDim);
        if (rope is not null)
        {
            q = rope.Apply(q);
            k = rope.Apply(k);
        }
        if (keyPaddingMask is null && _heads != _kvHeads && StepKernels.Current.SdpaGqa && AtenKernels.Enabled)
        {
            var grouped = AtenKernels.SdpaGroupedQuery(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), _causal);
            return WeightGradGemm.Project(o_proj, grouped.transpose(1, 2).reshape(b, t, _heads * _headDim)).MoveToOuterDisposeScope();
        }
        k = GroupedQuery.RepeatKv(k, _heads / _kvHeads);
        v = GroupedQuery.RepeatKv(v, _heads / _kvHeads);

        Tensor? mask = null;
        if (keyPaddingMask is not null)
        {
            var allowed = keyPaddingMask.view(b, 1, 1, t);
            if (_causal) allowed = allowed.logical_and(ones(t, t, ScalarType.Bool, x.device).tril());
            // A query row with no valid key would softmax over nothing: unmask it (its output is never a target).
            mask = allowed.logical_or(allowed.any(-1, keepdim: true).logical_not());
        }
        var attended = nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
            attn_mask: mask, is_casual: _causal && mask is null);
        var merged = attended.transpose(1, 2).reshape(b, t, _heads * _headDim);
        return WeightGradGemm.Project(o_proj, merged).MoveToOuterDisposeScope();
    }
}
