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
        var side = TokenGrid.Side(config);
        NumTokens = TokenGrid.Tokens(config, side, $"a ViT over {config.ImageSize}px images with {config.PatchSize}px patches");
        _imageSize = config.ImageSize;
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
        TokenGrid.CheckImages(images, _imageSize);
        using var scope = NewDisposeScope();
        return TokenGrid.Encode(patch_embed.forward(images), position_embedding, blocks, norm).MoveToOuterDisposeScope();
    }
}
