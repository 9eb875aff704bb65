using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Vision.Towers;

/// <summary>The stack of encoder layers (HF name encoder.layers.N).</summary>
public sealed class TowerEncoder : nn.Module<Tensor, Tensor>
{
    public readonly ModuleList<TowerEncoderLayer> layers;

    public TowerEncoder(HfVisionTowerConfig config, Device device) : base(nameof(TowerEncoder))
    {
        layers = new ModuleList<TowerEncoderLayer>(Enumerable.Range(0, config.Layers).Select(_ => new TowerEncoderLayer(config, device)).ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x;
        foreach (var layer in layers) h = layer.forward(h);
        return h.MoveToOuterDisposeScope();
    }
}
