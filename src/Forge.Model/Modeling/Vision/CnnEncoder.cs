using Forge.Model.Config;
using System.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling.Vision;

/// <summary>
/// A small trainable convolutional encoder: log2(patch_size) stages, each halving the image side
/// with a stride-2 conv-norm-act block and then refining it with residual stride-1 blocks
/// (n_layers blocks per stage in all), so each of the (image_size / patch_size)^2 output cells
/// sees one patch and its surroundings. The cells become tokens (B, N, F) in row-major order, with
/// learned positions and a final LayerNorm, exactly the shape a ViT of the same patch size emits,
/// so cross-attention is unchanged. Widths double per stage up to feature_dim.
/// <para>
/// Why beside the ViT: a from-scratch ViT must learn locality from the data, and ~3 drawings per
/// emoji are too few for that in a CPU demo's budget; a convolution's locality and weight sharing
/// are built in. GroupNorm rather than BatchNorm: no running statistics, so ranks stay identical
/// without synchronising buffers, and a checkpoint is parameters only.
/// </para>
/// </summary>
public sealed class CnnEncoder : VisionEncoder
{
    public readonly ModuleList<ConvBlock> blocks;
    public readonly Parameter position_embedding;
    public readonly LayerNorm norm;

    private readonly int _imageSize;

    public override int NumTokens { get; }
    public override int FeatureDim { get; }

    public CnnEncoder(VisionEncoderConfig config, Device device) : base(nameof(CnnEncoder))
    {
        var stages = StagesFor(config.PatchSize)
            ?? throw new ArgumentException($"vision_encoder.patch_size {config.PatchSize}: a CNN's cells are a power of two of at least 2 pixels (each stage halves the side)");
        if (config.ImageSize % config.PatchSize != 0)
            throw new ArgumentException($"vision_encoder.image_size {config.ImageSize} is not a multiple of vision_encoder.patch_size {config.PatchSize}");
        if (config.FeatureDim % (1 << (stages - 1)) != 0)
            throw new ArgumentException($"vision_encoder.feature_dim {config.FeatureDim} is not a multiple of {1 << (stages - 1)}: the {stages} stages of a CNN with {config.PatchSize}px cells halve it per stage back from the last");
        if (config.NLayers < 1)
            throw new ArgumentException($"vision_encoder.n_layers {config.NLayers}: a CNN needs at least one conv block per stage");
        var grid = config.ImageSize / config.PatchSize;
        if (config.NumTokens != grid * grid)
            throw new ArgumentException($"vision_encoder.num_tokens is {config.NumTokens} but a CNN over {config.ImageSize}px images with {config.PatchSize}px cells emits {grid * grid}");
        _imageSize = config.ImageSize;
        NumTokens = grid * grid;
        FeatureDim = config.FeatureDim;

        var layers = new List<ConvBlock>();
        var channels = 3;
        for (var stage = 0; stage < stages; stage++)
        {
            var width = config.FeatureDim >> (stages - 1 - stage);
            layers.Add(new ConvBlock(channels, width, stride: 2, device));
            for (var i = 1; i < config.NLayers; i++) layers.Add(new ConvBlock(width, width, stride: 1, device));
            channels = width;
        }
        blocks = new ModuleList<ConvBlock>(layers.ToArray());
        position_embedding = new Parameter(randn([1, NumTokens, config.FeatureDim], device: device).mul_(0.02));
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
        if (images.shape[2] != _imageSize || images.shape[3] != _imageSize)
            throw new ArgumentException($"images are {images.shape[2]}x{images.shape[3]} but vision_encoder.image_size is {_imageSize}");
        using var scope = NewDisposeScope();
        var h = images;
        foreach (var block in blocks) h = block.forward(h);
        var tokens = h.flatten(2).transpose(1, 2); // (B, F, g, g) -> (B, N, F), row-major like the ViT's patches
        return norm.forward(tokens.Plus(position_embedding)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// 3x3 conv (no bias: the norm's shift is the bias), GroupNorm, GELU. A stride-1 block of equal
/// widths is residual, so stacking them per stage does not make the stem harder to train.
/// </summary>
public sealed class ConvBlock : nn.Module<Tensor, Tensor>
{
    public readonly Conv2d conv;
    public readonly GroupNorm norm;

    private readonly bool _residual;

    public ConvBlock(int inChannels, int outChannels, int stride, Device device) : base(nameof(ConvBlock))
    {
        conv = nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false, device: device);
        norm = nn.GroupNorm(Groups(outChannels), outChannels, device: device);
        _residual = stride == 1 && inChannels == outChannels;
        RegisterComponents();
    }

    /// <summary>The most groups, up to 8, that divide the width evenly (8 for every width of 8 or a multiple of it).</summary>
    private static int Groups(int channels) => Enumerable.Range(1, 8).Last(g => channels % g == 0);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = nn.functional.gelu(norm.forward(conv.forward(x)));
        return (_residual ? x.Plus(y) : y).MoveToOuterDisposeScope();
    }
}
