using Forge.Model.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling.Vision;

/// <summary>A small trainable ViT: non-overlapping patch embedding, learned positions, pre-norm blocks, final LayerNorm.</summary>
public sealed class VitEncoder : VisionEncoder
{
    public readonly Conv2d patch_embed;
    public readonly Parameter position_embedding;
    public readonly ModuleList<VitBlock> blocks;
    public readonly LayerNorm norm;

    private readonly int _imageSize;

    public override int NumTokens { get; }
    public override int FeatureDim { get; }

    public VitEncoder(VisionEncoderConfig config, Device device) : base(nameof(VitEncoder))
    {
        if (config.ImageSize % config.PatchSize != 0)
            throw new ArgumentException($"vision_encoder.image_size {config.ImageSize} is not a multiple of vision_encoder.patch_size {config.PatchSize}");
        var grid = config.ImageSize / config.PatchSize;
        if (config.NumTokens != grid * grid)
            throw new ArgumentException($"vision_encoder.num_tokens is {config.NumTokens} but a ViT over {config.ImageSize}px images with {config.PatchSize}px patches emits {grid * grid}");
        _imageSize = config.ImageSize;
        NumTokens = grid * grid;
        FeatureDim = config.FeatureDim;
        patch_embed = nn.Conv2d(3, config.FeatureDim, config.PatchSize, stride: config.PatchSize, device: device);
        position_embedding = new Parameter(randn([1, NumTokens, config.FeatureDim], device: device).mul_(0.02));
        blocks = new ModuleList<VitBlock>(Enumerable.Range(0, config.NLayers)
            .Select(_ => new VitBlock(config.FeatureDim, config.NHeads, config.MlpRatio, device)).ToArray());
        norm = nn.LayerNorm(config.FeatureDim, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor images)
    {
        if (images.shape[2] != _imageSize || images.shape[3] != _imageSize)
            throw new ArgumentException($"images are {images.shape[2]}x{images.shape[3]} but vision_encoder.image_size is {_imageSize}");
        using var scope = NewDisposeScope();
        var patches = patch_embed.forward(images).flatten(2).transpose(1, 2); // (B, N, F)
        var h = patches.Plus(position_embedding);
        foreach (var block in blocks) h = block.forward(h);
        return norm.forward(h).MoveToOuterDisposeScope();
    }
}
