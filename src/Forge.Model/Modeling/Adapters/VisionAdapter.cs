using Forge.Model.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Adapters;

/// <summary>Maps vision features (B, N, featureDim) into the text model's width (B, N, dim), keeping N.</summary>
public abstract class VisionAdapter(string name) : nn.Module<Tensor, Tensor>(name)
{
    public static VisionAdapter Create(AdapterConfig config, int inDim, int outDim, Device device) => config.Type switch
    {
        AdapterConfig.Mlp2Layer => new Mlp2LayerAdapter(inDim, config.HiddenDim > 0 ? config.HiddenDim : outDim, outDim, config.Activation, device),
        AdapterConfig.Linear => new LinearAdapter(inDim, outDim, device),
        _ => throw new ArgumentException($"adapter.type '{config.Type}' is unknown; expected one of {string.Join(", ", AdapterConfig.Types)}"),
    };
}
