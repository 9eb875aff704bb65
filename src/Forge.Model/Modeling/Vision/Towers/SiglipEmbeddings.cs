using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Vision.Towers;

/// <summary>SigLIP's patch embedding (a biased stride-patch convolution) plus one learned position per patch; no CLS token.</summary>
public sealed class SiglipEmbeddings : nn.Module<Tensor, Tensor>
{
    public readonly Conv2d patch_embedding;
    public readonly Embedding position_embedding;

    public SiglipEmbeddings(HfVisionTowerConfig config, Device device) : base(nameof(SiglipEmbeddings))
    {
        patch_embedding = nn.Conv2d(config.Channels, config.HiddenSize, config.PatchSize, stride: config.PatchSize, device: device);
        position_embedding = nn.Embedding(config.Patches, config.HiddenSize, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var patches = patch_embedding.forward(images).flatten(2).transpose(1, 2);
        return patches.add(position_embedding.weight!.to(patches.dtype)).MoveToOuterDisposeScope();
    }
}
