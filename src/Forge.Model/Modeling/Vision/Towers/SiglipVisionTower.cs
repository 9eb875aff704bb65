using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Vision.Towers;

/// <summary>
/// SigLIP's vision tower (<c>vision_encoder.type = "siglip"</c>, or KempnerForge's <c>"siglip2"</c>
/// for the fixed-resolution SigLIP 2 towers, which share the architecture): patch embeddings with
/// positions, pre-norm encoder, final LayerNorm; the output is last_hidden_state (no CLS token).
/// The attention-pooling head computes the image-level embedding only, so it is not loaded.
/// </summary>
public sealed class SiglipVisionTower : PretrainedVisionTower
{
    public readonly SiglipEmbeddings embeddings;
    public readonly TowerEncoder encoder;
    public readonly LayerNorm post_layernorm;

    public SiglipVisionTower(string directory, Device device) : this(directory, HfVisionTowerConfig.Read(directory, "siglip"), device)
    {
    }

    private SiglipVisionTower(string directory, HfVisionTowerConfig config, Device device) : base(nameof(SiglipVisionTower), directory, config)
    {
        embeddings = new SiglipEmbeddings(config, device);
        encoder = new TowerEncoder(config, device);
        post_layernorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device);
        RegisterComponents();
    }

    protected override bool IsUnused(string localName) => localName.StartsWith("head.", StringComparison.Ordinal);

    public override Tensor forward(Tensor images)
    {
        CheckImageSize(images);
        using var scope = NewDisposeScope();
        return post_layernorm.forward(encoder.forward(embeddings.forward(images))).MoveToOuterDisposeScope();
    }
}
