using TorchSharp;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling;

/// <summary>One pre-norm decoder layer: x + attn(norm(x)), then + mlp(norm(x)).</summary>
public sealed class TransformerBlock : nn.Module
{
    public readonly RmsNorm attention_norm;
    public readonly Attention attention;
    public readonly RmsNorm mlp_norm;
    public readonly SwiGluMlp mlp;

    public TransformerBlock(int dim, int heads, int kvHeads, int ffnHidden, double normEps, Device? device = null)
        : base(nameof(TransformerBlock))
    {
        attention_norm = new RmsNorm(dim, normEps, device);
        attention = new Attention(dim, heads, kvHeads, causal: true, device);
        mlp_norm = new RmsNorm(dim, normEps, device);
        mlp = new SwiGluMlp(dim, ffnHidden, device);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, RotaryEmbedding rope, Tensor? keyPaddingMask = null)
    {
        using var scope = NewDisposeScope();
        var h = x.Plus(attention.forward(attention_norm.forward(x), rope, keyPaddingMask));
        return h.Plus(mlp.forward(mlp_norm.forward(h))).MoveToOuterDisposeScope();
    }
}
