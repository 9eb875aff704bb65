using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling.Mot;

/// <summary>
/// KempnerForge's MoTBlock: per-modality pre-norms and SwiGLU MLPs around one <see cref="MotAttention"/>.
/// With o_proj and every modality's mlp.down_proj at zero, a new block is exactly the identity, so
/// MoT layers can start from a text stack (<see cref="MotWarmStart"/>) or from nothing.
/// </summary>
public sealed class MotBlock : nn.Module
{
    public readonly ModalityPair<RmsNorm> attn_norm;
    public readonly MotAttention attn;
    public readonly ModalityPair<RmsNorm> mlp_norm;
    public readonly ModalityPair<SwiGluMlp> mlp;

    public MotBlock(int dim, int heads, int kvHeads, int ffnHidden, double normEps, Device? device = null) : base(nameof(MotBlock))
    {
        attn_norm = new ModalityPair<RmsNorm>(() => new RmsNorm(dim, normEps, device));
        attn = new MotAttention(dim, heads, kvHeads, device);
        mlp_norm = new ModalityPair<RmsNorm>(() => new RmsNorm(dim, normEps, device));
        mlp = new ModalityPair<SwiGluMlp>(() => new SwiGluMlp(dim, ffnHidden, device));
        using (no_grad())
            foreach (var m in Modalities.All) mlp.Of(m).down_proj.weight!.zero_();
        RegisterComponents();
    }

    public (Tensor Image, Tensor Text) forward(Tensor image, Tensor text, RotaryEmbedding rope, Tensor? keyPaddingMask = null)
    {
        using var scope = NewDisposeScope();
        var (ai, at) = attn.forward(attn_norm.Of(Modalities.Image).forward(image), attn_norm.Of(Modalities.Text).forward(text), rope, keyPaddingMask);
        var hi = image.Plus(ai);
        var ht = text.Plus(at);
        hi = hi.Plus(mlp.Of(Modalities.Image).forward(mlp_norm.Of(Modalities.Image).forward(hi)));
        ht = ht.Plus(mlp.Of(Modalities.Text).forward(mlp_norm.Of(Modalities.Text).forward(ht)));
        return (hi.MoveToOuterDisposeScope(), ht.MoveToOuterDisposeScope());
    }
}
