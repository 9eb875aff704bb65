using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Vision.Towers;

/// <summary>
/// CLIP's vision tower (<c>vision_encoder.type = "clip"</c>): CLS plus patch embeddings, the
/// pre-encoder LayerNorm (HF spells it pre_layrnorm), the encoder; the output is
/// last_hidden_state with the CLS token stripped, as KempnerForge feeds it. CLIP applies
/// post_layernorm only to the pooled CLS token, so that norm is not part of this output nor loaded.
/// </summary>
public sealed class ClipVisionTower : PretrainedVisionTower
{
    public readonly ClipEmbeddings embeddings;
    public readonly LayerNorm pre_layrnorm;
    public readonly TowerEncoder encoder;

    public ClipVisionTower(string directory, Device device) : this(directory, HfVisionTowerConfig.Read(directory, "clip"), device)
    {
    }

    private ClipVisionTower(string directory, HfVisionTowerConfig config, Device device) : base(nameof(ClipVisionTower), directory, config)
    {
        embeddings = new ClipEmbeddings(config, device);
        pre_layrnorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device);
        encoder = new TowerEncoder(config, device);
        RegisterComponents();
    }

    protected override bool IsUnused(string localName) => localName.StartsWith("post_layernorm.", StringComparison.Ordinal);

    /// <summary>All of last_hidden_state, CLS token first (what transformers returns).</summary>
    public Tensor LastHiddenState(Tensor images)
    {
        CheckImageSize(images);
        using var scope = NewDisposeScope();
        return encoder.forward(pre_layrnorm.forward(embeddings.forward(images))).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var hidden = LastHiddenState(images);
        return hidden.narrow(1, 1, hidden.shape[1] - 1).MoveToOuterDisposeScope();
    }
}
