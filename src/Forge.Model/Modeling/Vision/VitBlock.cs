using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling.Vision;

/// <summary>A pre-norm ViT layer: bidirectional attention without RoPE, then a GELU MLP.</summary>
public sealed class VitBlock : nn.Module<Tensor, Tensor>
{
    public readonly LayerNorm attention_norm;
    public readonly Attention attention;
    public readonly LayerNorm mlp_norm;
    public readonly Linear fc1;
    public readonly Linear fc2;

    public VitBlock(int dim, int heads, int mlpRatio, Device device) : base(nameof(VitBlock))
    {
        attention_norm = nn.LayerNorm(dim, device: device);
        attention = new Attention(dim, heads, heads, causal: false, device);
        mlp_norm = nn.LayerNorm(dim, device: device);
        fc1 = nn.Linear(dim, dim * mlpRatio, device: device);
        fc2 = nn.Linear(dim * mlpRatio, dim, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x.Plus(attention.forward(attention_norm.forward(x), rope: null));
        var mlp = fc2.forward(nn.functional.gelu(fc1.forward(mlp_norm.forward(h))));
        return h.Plus(mlp).MoveToOuterDisposeScope();
    }
}
