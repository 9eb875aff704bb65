using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Mot;

/// <summary>
/// One module per MoT modality, registered under the modality's name (KempnerForge's
/// nn.ModuleDict keyed "image", "text"), so parameter names read attn.q_proj.image.weight. Fields
/// rather than TorchSharp's ModuleDict: its module.to() fails on 0.107 (a duplicate "Item" key).
/// </summary>
public sealed class ModalityPair<T> : nn.Module where T : nn.Module
{
    public readonly T image;
    public readonly T text;

    public ModalityPair(Func<T> make) : base("ModalityPair")
    {
        image = make();
        text = make();
        RegisterComponents();
    }

    public T Of(string modality) => modality switch
    {
        Modalities.Image => image,
        Modalities.Text => text,
        _ => throw new ArgumentException($"MoT modality '{modality}' is unknown; expected {string.Join(" or ", Modalities.All)}"),
    };
}
