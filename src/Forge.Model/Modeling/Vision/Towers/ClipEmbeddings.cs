using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Vision.Towers;

/// <summary>CLIP's embeddings: a learned CLS vector before the (bias-free) patch embeddings, and a learned position for each of the 1 + patches tokens.</summary>
public sealed class ClipEmbeddings : nn.Module<Tensor, Tensor>
{
    public readonly Parameter class_embedding;
    public readonly Conv2d patch_embedding;
    public readonly Embedding position_embedding;

    public ClipEmbeddings(HfVisionTowerConfig config, Device device) : base(nameof(ClipEmbeddings))
    {
        class_embedding = new Parameter(randn([config.HiddenSize], device: device));
        patch_embedding = nn.Conv2d(config.Channels, config.HiddenSize, config.PatchSize, stride: config.PatchSize, bias: false, device: device);
        position_embedding = nn.Embedding(config.Patches + 1, config.HiddenSize, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var patches = patch_embedding.forward(images).flatten(2).transpose(1, 2);
        var cls = class_embedding.to(patches.dtype).view(1, 1, -1).expand(patches.shape[0], 1, patches.shape[2]);
        return cat([cls, patches], 1).add(position_embedding.weight!.to(patches.dtype)).MoveToOuterDisposeScope();
    }
}
