using Forge.Model.Config;
using System.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling.Vision;

/// <summary>
/// A ViT whose patchify is a convolutional stem: log2(patch_size) stride-2 conv-norm-act blocks,
/// widths doubling up to feature_dim, in place of the ViT's one stride-patch_size linear projection.
/// Each of the (image_size / patch_size)^2 output cells becomes a token (B, N, F) in row-major order,
/// with learned positions, then n_layers ViT blocks (0: the stem alone) and a final LayerNorm:
/// exactly the shape a ViT of the same patch size emits, so cross-attention is unchanged.
/// <para>
/// Why: a from-scratch ViT must learn local shape and colour filters from the data through one
/// linear patch projection, and ~3 drawings per emoji give it little to learn them from in a CPU
/// demo's budget; stacked small convolutions have locality and weight sharing built in ("early
/// convolutions help transformers see better"). The blocks after the stem give every token the
/// whole picture, which the stem's receptive field alone does not.
/// </para>
/// </summary>
public sealed class CnnEncoder : VisionEncoder
{
    public readonly ModuleList<ConvBlock> stem;
    public readonly Parameter position_embedding;
    public readonly ModuleList<VitBlock> blocks;
    public readonly LayerNorm norm;

    private readonly int _imageSize;

    public override int NumTokens { get; }
    public override int FeatureDim { get; }

    public CnnEncoder(VisionEncoderConfig config, Device device) : base(nameof(CnnEncoder))
    {
        var stages = StagesFor(config.PatchSize)
            ?? throw new ArgumentException($"vision_encoder.patch_size {config.PatchSize}: a CNN stem's cells are a power of two of at least 2 pixels (each stage halves the side)");
        var side = TokenGrid.Side(config);
        if (config.FeatureDim % (1 << (stages - 1)) != 0)
            throw new ArgumentException($"vision_encoder.feature_dim {config.FeatureDim} is not a multiple of {1 << (stages - 1)}: the {stages} stages of a CNN stem with {config.PatchSize}px cells halve it per stage back from the last");
        if (config.NLayers < 0)
            throw new ArgumentException($"vision_encoder.n_layers {config.NLayers}: expected 0 (the stem alone) or a count of ViT blocks");
        NumTokens = TokenGrid.Tokens(config, side, $"a CNN stem over {config.ImageSize}px images with {config.PatchSize}px cells");
        _imageSize = config.ImageSize;
        FeatureDim = config.FeatureDim;

        var channels = 3;
        var layers = new ConvBlock[stages];
        for (var stage = 0; stage < stages; stage++)
        {
            var width = config.FeatureDim >> (stages - 1 - stage);
            layers[stage] = new ConvBlock(channels, width, device);
            channels = width;
        }
        stem = new ModuleList<ConvBlock>(layers);
        position_embedding = new Parameter(randn([1, NumTokens, config.FeatureDim], device: device).mul_(0.02));
        blocks = new ModuleList<VitBlock>(Enumerable.Range(0, config.NLayers)
            .Select(_ => new VitBlock(config.FeatureDim, config.NHeads, config.MlpRatio, device)).ToArray());
        norm = nn.LayerNorm(config.FeatureDim, device: device);
        RegisterComponents();
    }

    /// <summary>
    /// The stride-2 stages that shrink an image side by <paramref name="patchSize"/>, its base-2
    /// logarithm; null when it is not a power of two of at least 2, which no stack of halvings gives.
    /// </summary>
    public static int? StagesFor(int patchSize) =>
        patchSize >= 2 && BitOperations.IsPow2(patchSize) ? BitOperations.Log2((uint)patchSize) : null;

    public override Tensor forward(Tensor images)
    {
        TokenGrid.CheckImages(images, _imageSize);
        using var scope = NewDisposeScope();
        var cells = images;
        foreach (var block in stem) cells = block.forward(cells);
        return TokenGrid.Encode(cells, position_embedding, blocks, norm).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// A stride-2 3x3 conv (no bias: the norm's shift is the bias), LayerNorm over each position's
/// channels, GELU: one halving of the image side.
/// <para>
/// Why a per-position norm: GroupNorm or instance norm subtract each image's own mean response over
/// the whole picture, and so take away much of its overall colour, which is what tells a lemon from a
/// lime; normalising each position's channel vector keeps it. Like GroupNorm, and unlike BatchNorm, it
/// has no running statistics to keep in step across ranks or store in checkpoints.
/// </para>
/// </summary>
public sealed class ConvBlock : nn.Module<Tensor, Tensor>
{
    public readonly Conv2d conv;
    public readonly LayerNorm norm;

    public ConvBlock(int inChannels, int outChannels, Device device) : base(nameof(ConvBlock))
    {
        conv = nn.Conv2d(inChannels, outChannels, 3, stride: 2, padding: 1, bias: false, device: device);
        norm = nn.LayerNorm(outChannels, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var normed = norm.forward(conv.forward(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2); // channels last for the norm
        return nn.functional.gelu(normed).MoveToOuterDisposeScope();
    }
}
