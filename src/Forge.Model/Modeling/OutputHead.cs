using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>Hidden states to vocabulary logits, untied from the embedding (state-dict name output_head.proj.weight).</summary>
public sealed class OutputHead : nn.Module<Tensor, Tensor>
{
    public readonly Linear proj;

    public OutputHead(int dim, int vocab, Device? device = null) : base(nameof(OutputHead))
    {
        proj = nn.Linear(dim, vocab, hasBias: false, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden) => proj.forward(hidden);
}
