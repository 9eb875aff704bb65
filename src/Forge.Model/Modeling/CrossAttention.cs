using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling;

/// <summary>
/// Text queries attending to image keys/values. Unlike <see cref="Attention"/>: no causal mask
/// (image tokens have no order relative to text positions), no RoPE (the two axes share no
/// coordinate; text positions were already rotated in the self-attention layers), and o_proj is
/// zero-initialised so a freshly added block contributes nothing (Llama-3-V warm start).
/// </summary>
public sealed class CrossAttention : nn.Module
{
    public readonly Linear q_proj;
    public readonly Linear k_proj;
    public readonly Linear v_proj;
    public readonly Linear o_proj;

    private readonly int _heads;
    private readonly int _kvHeads;
    private readonly int _headDim;

    public CrossAttention(int dim, int heads, int kvHeads, Device? device = null) : base(nameof(CrossAttention))
    {
        if (dim % heads != 0) throw new ArgumentException($"dim {dim} is not divisible by cross-attention heads {heads}");
        if (heads % kvHeads != 0) throw new ArgumentException($"cross-attention heads {heads} is not a multiple of its kv heads {kvHeads}");
        _heads = heads;
        _kvHeads = kvHeads;
        _headDim = dim / heads;
        q_proj = nn.Linear(dim, heads * _headDim, hasBias: false, device: device);
        k_proj = nn.Linear(dim, kvHeads * _headDim, hasBias: false, device: device);
        v_proj = nn.Linear(dim, kvHeads * _headDim, hasBias: false, device: device);
        o_proj = nn.Linear(heads * _headDim, dim, hasBias: false, device: device);
        using (no_grad()) o_proj.weight!.zero_();
        RegisterComponents();
    }

    /// <param name="x">Text hidden state (B, T, dim).</param>
    /// <param name="image">Image features (B, N, dim).</param>
    /// <param name="imageMask">Optional (B, N) bool, true = attend.</param>
    public Tensor forward(Tensor x, Tensor image, Tensor? imageMask)
    {
        using var scope = NewDisposeScope();
        var (b, t, n) = (x.shape[0], x.shape[1], image.shape[1]);
        var q = WeightGradGemm.Project(q_proj, x).view(b, t, _heads, _headDim);
        if (imageMask is null && _heads != _kvHeads && StepKernels.Current.SdpaGqa && AtenKernels.Enabled)
        {
            var grouped = AtenKernels.SdpaGroupedQuery(q.transpose(1, 2),
                WeightGradGemm.Project(k_proj, image).view(b, n, _kvHeads, _headDim).transpose(1, 2),
                WeightGradGemm.Project(v_proj, image).view(b, n, _kvHeads, _headDim).transpose(1, 2), causal: false);
            return WeightGradGemm.Project(o_proj, grouped.transpose(1, 2).reshape(b, t, _heads * _headDim)).MoveToOuterDisposeScope();
        }
        var k = GroupedQuery.RepeatKv(WeightGradGemm.Project(k_proj, image).view(b, n, _kvHeads, _headDim), _heads / _kvHeads);
        var v = GroupedQuery.RepeatKv(WeightGradGemm.Project(v_proj, image).view(b, n, _kvHeads, _headDim), _heads / _kvHeads);

        Tensor? mask = null;
        if (imageMask is not null)
        {
            // A sample with every image token masked would softmax over nothing (NaN); attend to all
            // of them instead. Such a sample carries no usable image, so its loss is what it is.
            var safe = imageMask.logical_or(imageMask.any(1, keepdim: true).logical_not());
            mask = safe.view(b, 1, 1, n);
        }
        var attended = nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask: mask, is_casual: false);
        var merged = attended.transpose(1, 2).reshape(b, t, _heads * _headDim);
        return WeightGradGemm.Project(o_proj, merged).MoveToOuterDisposeScope();
    }
}
