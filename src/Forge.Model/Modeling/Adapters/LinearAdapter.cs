using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Adapters;

/// <summary>A single Linear(bias) connector: the ablation baseline to mlp_2layer.</summary>
public sealed class LinearAdapter : VisionAdapter
{
    public readonly Linear proj;

    public LinearAdapter(int inDim, int outDim, Device device) : base(nameof(LinearAdapter))
    {
        proj = nn.Linear(inDim, outDim, hasBias: true, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => proj.forward(x);
}
