using TorchSharp;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling;

/// <summary>
/// Pre-norm cross-attention + residual, pre-norm SwiGLU + residual. The MLP's down_proj is
/// zero-initialised like the attention's o_proj, so the whole block is exactly the identity at
/// construction and a text-only checkpoint keeps its logits when the blocks are inserted.
/// </summary>
public sealed class CrossAttentionBlock : nn.Module
{
    public readonly RmsNorm attn_norm;
    public readonly CrossAttention attn;
    public readonly RmsNorm mlp_norm;
    public readonly SwiGluMlp mlp;

    public CrossAttentionBlock(int dim, int heads, int kvHeads, int ffnHidden, double normEps, Device? device = null)
        : base(nameof(CrossAttentionBlock))
    {
        attn_norm = new RmsNorm(dim, normEps, device);
        attn = new CrossAttention(dim, heads, kvHeads, device);
        mlp_norm = new RmsNorm(dim, normEps, device);
        mlp = new SwiGluMlp(dim, ffnHidden, device);
        using (no_grad()) mlp.down_proj.weight!.zero_();
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor image, Tensor? imageMask)
    {
        using var scope = NewDisposeScope();
        var (residual, pending) = Forward(x, null, image, imageMask);
        return residual.Plus(pending).MoveToOuterDisposeScope();
    }

    /// <summary>The block on a residual stream carried as (residual, pending), as <see cref="TransformerBlock.Forward"/>.</summary>
    public (Tensor Residual, Tensor Pending) Forward(Tensor residual, Tensor? pending, Tensor image, Tensor? imageMask)
    {
        using var scope = NewDisposeScope();
        var (x, attentionInput) = attn_norm.AfterAdd(residual, pending);
        var (h, normed) = mlp_norm.AfterAdd(x, attn.forward(attentionInput, image, imageMask));
        return (h.MoveToOuterDisposeScope(), mlp.forward(normed).MoveToOuterDisposeScope());
    }
}
