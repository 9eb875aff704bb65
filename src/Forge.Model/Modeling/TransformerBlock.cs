using Forge.Model.Modeling.Moe;
using TorchSharp;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling;

/// <summary>
/// One pre-norm decoder layer: h = x + attn(norm(x)), then h + mlp(norm(h)). The MLP is a dense SwiGLU or,
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
        var (residual, pending) = Forward(x, null, rope, keyPaddingMask, routing);
        return residual.Plus(pending).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The layer on a residual stream carried as (residual, pending): its input is residual + pending, and
    /// it returns its output the same way, with the MLP's output still to be added. The decoder carries
    /// the pending addend into the next layer's first norm, so every residual add is fused with the norm
    /// that follows it (<see cref="RmsNorm.AfterAdd"/>).
    /// </summary>
    public (Tensor Residual, Tensor Pending) Forward(Tensor residual, Tensor? pending, RotaryEmbedding rope,
        Tensor? keyPaddingMask = null, RoutingLog? routing = null)
    {
        using var scope = NewDisposeScope();
        var (x, attentionInput) = attention_norm.AfterAdd(residual, pending);
        var (h, normed) = mlp_norm.AfterAdd(x, attention.forward(attentionInput, rope, keyPaddingMask));
        var ffn = mlp is MoeMlp moe ? moe.forward(normed, routing) : ((SwiGluMlp)mlp).forward(normed);
        return (h.MoveToOuterDisposeScope(), ffn.MoveToOuterDisposeScope());
    }
}
