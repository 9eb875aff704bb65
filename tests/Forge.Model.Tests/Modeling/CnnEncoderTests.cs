using Forge.Model.Config;
using Forge.Model.Modeling;
using Forge.Model.Modeling.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Modeling;

public class CnnEncoderTests
{
    private static VisionEncoderConfig Cnn(int imageSize = 32, int patchSize = 8, int numTokens = 16, int featureDim = 32, int layers = 2) =>
        new() { Type = VisionEncoderConfig.Cnn, ImageSize = imageSize, PatchSize = patchSize, NumTokens = numTokens, FeatureDim = featureDim, NLayers = layers, NHeads = 4, MlpRatio = 2 };

    [Fact]
    public void ItEmitsOneTokenPerCellOfFeatureDimWidthLikeAVitOfTheSamePatchSize()
    {
        using var cnn = new CnnEncoder(Cnn(), CPU);
        using var vit = new VitEncoder(Cnn() with { Type = VisionEncoderConfig.Vit }, CPU);
        using var images = rand([3, 3, 32, 32], generator: new Generator(5));
        using var noGrad = no_grad();
        using var features = cnn.forward(images);
        using var patches = vit.forward(images);
        Assert.Equal(new long[] { 3, 16, 32 }, features.shape);
        Assert.Equal(patches.shape, features.shape);
        Assert.Equal((16, 32), (cnn.NumTokens, cnn.FeatureDim));
    }

    [Fact]
    public void ItsStemHasOneStride2ConvPerHalvingWithWidthsDoublingUpToFeatureDim()
    {
        // 8px cells: three halvings, 32 -> 16 -> 8 -> 4 on a side, widths 8, 16, 32; then the two ViT blocks.
        using var cnn = new CnnEncoder(Cnn(), CPU);
        Assert.Equal(new long[] { 8, 16, 32 }, cnn.stem.Select(b => b.conv.weight!.shape[0]).ToArray());
        Assert.All(cnn.stem, b => Assert.Equal(2, b.conv.stride[0]));
        Assert.Equal(2, cnn.blocks.Count);
    }

    [Fact]
    public void WithNoViTBlocksTheStemAloneEmitsTheTokens()
    {
        using var cnn = new CnnEncoder(Cnn(layers: 0), CPU);
        using var noGrad = no_grad();
        using var features = cnn.forward(rand([2, 3, 32, 32], generator: new Generator(3)));
        Assert.Empty(cnn.blocks);
        Assert.Equal(new long[] { 2, 16, 32 }, features.shape);
    }

    [Fact]
    public void TheCaptionLossGradientReachesTheFirstConvolutionOfATrainedCnn()
    {
        var config = TinyVlm.Config(encoder: VisionEncoderConfig.Cnn) with { Vlm = TinyVlm.Config().Vlm with { Freeze = [] } };
        using var model = TinyVlm.Build(config);
        TinyVlm.WakeCrossAttention(model); // otherwise the identity CA blocks give the image path no gradient at all
        using var images = TinyVlm.Images(2, 5);
        using var ids = TinyVlm.Ids(2, 8, 6);
        using var batch = TinyVlm.Batch(images, ids);
        var (loss, _) = model.LossSum(batch);
        loss.backward();

        var stem = model.named_parameters().Single(p => p.name == "vision_encoder.stem.0.conv.weight").parameter;
        Assert.True(stem.grad!.abs().max().item<float>() > 0, "the first convolution got no gradient");
    }

    [Fact]
    public void DifferentImagesGiveDifferentFeatures()
    {
        using var cnn = new CnnEncoder(Cnn(), CPU);
        using var noGrad = no_grad();
        using var a = cnn.forward(rand([1, 3, 32, 32], generator: new Generator(1)));
        using var b = cnn.forward(rand([1, 3, 32, 32], generator: new Generator(2)));
        Assert.False(a.allclose(b, rtol: 1e-3, atol: 1e-4));
    }

    [Theory]
    [InlineData(32, 6, 16, 32, 2, "vision_encoder.patch_size 6")]
    [InlineData(32, 1, 1024, 32, 2, "vision_encoder.patch_size 1")]
    [InlineData(24, 16, 1, 32, 2, "vision_encoder.image_size 24 is not a multiple of vision_encoder.patch_size 16")]
    [InlineData(32, 8, 64, 32, 2, "vision_encoder.num_tokens is 64 but a CNN stem over 32px images with 8px cells emits 16")]
    [InlineData(32, 8, 16, 30, 2, "vision_encoder.feature_dim 30 is not a multiple of 4")]
    [InlineData(32, 8, 16, 32, -1, "vision_encoder.n_layers -1")]
    public void AnImpossibleShapeIsRejectedNamingTheKeyAndTheValue(int imageSize, int patchSize, int numTokens, int featureDim, int layers, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => new CnnEncoder(Cnn(imageSize, patchSize, numTokens, featureDim, layers), CPU));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void TheRegistryBuildsTheCnnForTypeCnnWithTheSameWeightsForTheSameSeed()
    {
        var config = TinyVlm.Config(encoder: VisionEncoderConfig.Cnn);
        using var a = TinyVlm.Build(config);
        using var b = TinyVlm.Build(config);
        Assert.IsType<CnnEncoder>(a.vision_encoder);
        var bw = b.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in a.named_parameters().Where(p => p.name.StartsWith("vision_encoder.")))
            Assert.True(p.equal(bw[name]).all().item<bool>(), name);
    }
}
