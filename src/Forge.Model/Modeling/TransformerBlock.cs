using Forge.Model.Modeling.Moe;
using TorchSharp;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling;

/// <summary>
/// One pre-norm decoder layer: x + attn(norm(x)), then + mlp(norm(x)). The MLP is a dense SwiGLU or,
/// on KempnerForge's MoE layers, an <see cref="MoeMlp"/> under the same name (`mlp`).
/// </summary>
public sealed class TransformerBlock : nn.Module
{
    public readonly RmsNorm attention_norm;
    public readonly Attention attention;
    public readonly RmsNorm mlp_norm;
    public readonly nn.Module mlp;

    public TransformerBlock(int dim, int heads, int kvHeads, int ffnHidden, double normEps, Device? device = null)
        : this(dim, heads, kvHeads, normEps, new SwiGluMlp(dim, ffnHidden, device), device)
    {
    }

    /// <param name="mlp">A <see cref="SwiGluMlp"/> or an <see cref="MoeMlp"/>.</param>
    public TransformerBlock(int dim, int heads, int kvHeads, double normEps, nn.Module mlp, Device? device = null)
        : base(nameof(TransformerBlock))
    {
        if (mlp is not (SwiGluMlp or MoeMlp)) throw new ArgumentException($"a decoder layer's MLP is a SwiGluMlp or an MoeMlp, not {mlp.GetType().Name}");
        attention_norm = new RmsNorm(dim, normEps, device);
        attention = new Attention(dim, heads, kvHeads, causal: true, device);
        mlp_norm = new RmsNorm(dim, normEps, device);
        this.mlp = mlp;
        RegisterComponents();
    }

    /// <summary>The dense MLP, or null on an MoE layer.</summary>
    public SwiGluMlp? DenseMlp => mlp as SwiGluMlp;

    public Tensor forward(Tensor x, RotaryEmbedding rope, Tensor? keyPaddingMask = null, RoutingLog? routing = null)
    {
        using var scope = NewDisposeScope();
        var h = x.Plus(attention.forward(attention_norm.forward(x), rope, keyPaddingMask));
        var normed = mlp_norm.forward(h);
        var ffn = mlp is MoeMlp moe ? moe.forward(normed, routing) : ((SwiGluMlp)mlp).forward(normed);
        return h.Plus(ffn).MoveToOuterDisposeScope();
    }
}
