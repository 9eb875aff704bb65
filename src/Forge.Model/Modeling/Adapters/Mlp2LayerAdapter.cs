using Forge.Model.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Adapters;

/// <summary>The LLaVA-style connector: Linear(bias) -> activation -> Linear(bias).</summary>
public sealed class Mlp2LayerAdapter : VisionAdapter
{
    public readonly Linear proj1;
    public readonly Linear proj2;
    private readonly Func<Tensor, Tensor> _activation;

    public Mlp2LayerAdapter(int inDim, int hidden, int outDim, string activation, Device device) : base(nameof(Mlp2LayerAdapter))
    {
        _activation = activation switch
        {
            AdapterConfig.Gelu => x => nn.functional.gelu(x),
            AdapterConfig.Silu => x => nn.functional.silu(x),
            AdapterConfig.Relu => x => nn.functional.relu(x),
            _ => throw new ArgumentException($"adapter.activation '{activation}' is unknown; expected one of {string.Join(", ", AdapterConfig.Activations)}"),
        };
        proj1 = nn.Linear(inDim, hidden, hasBias: true, device: device);
        proj2 = nn.Linear(hidden, outDim, hasBias: true, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return proj2.forward(_activation(proj1.forward(x))).MoveToOuterDisposeScope();
    }
}
