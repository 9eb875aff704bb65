using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling.Vision.Towers;

/// <summary>One pre-norm layer of a SigLIP or CLIP encoder (HF names layer_norm1, self_attn, layer_norm2, mlp).</summary>
public sealed class TowerEncoderLayer : nn.Module<Tensor, Tensor>
{
    public readonly LayerNorm layer_norm1;
    public readonly TowerAttention self_attn;
    public readonly LayerNorm layer_norm2;
    public readonly TowerMlp mlp;

    public TowerEncoderLayer(HfVisionTowerConfig config, Device device) : base(nameof(TowerEncoderLayer))
    {
        layer_norm1 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device);
        self_attn = new TowerAttention(config.HiddenSize, config.Heads, device);
        layer_norm2 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device);
        mlp = new TowerMlp(config.HiddenSize, config.IntermediateSize, config.HiddenAct, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x.Plus(self_attn.forward(layer_norm1.forward(x)));
        return h.Plus(mlp.forward(layer_norm2.forward(h))).MoveToOuterDisposeScope();
    }
}
