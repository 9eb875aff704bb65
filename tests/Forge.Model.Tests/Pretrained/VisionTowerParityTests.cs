using Forge.Model.Data;
using Forge.Model.Modeling.Vision.Towers;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Pretrained;

public sealed class VisionTowerParityTests(ITestOutputHelper output)
{
    private float MaxDiff(string label, Tensor got, Tensor expected)
    {
        Assert.Equal(expected.shape, got.shape);
        var diff = (got - expected).abs().max().item<float>();
        output.WriteLine($"{label}: max |diff| = {diff:E2} (reference std {expected.std().item<float>():F3})");
        return diff;
    }

    [Fact]
    public void SiglipLastHiddenStateMatchesTransformers()
    {
        using var tower = new SiglipVisionTower(HfFixtures.Dir("siglip"), CPU);
        tower.LoadPretrained();
        using var pixels = HfFixtures.ReadReference("siglip.safetensors", "pixel_values");
        using var expected = HfFixtures.ReadReference("siglip.safetensors", "last_hidden_state");
        using var noGrad = no_grad();
        using var features = tower.forward(pixels);

        Assert.Equal(16, tower.NumTokens);
        Assert.True(MaxDiff("siglip", features, expected) < 1e-4f);
    }

    [Fact]
    public void ClipOutputIsLastHiddenStateWithoutTheClsTokenAndMatchesTransformers()
    {
        using var tower = new ClipVisionTower(HfFixtures.Dir("clip"), CPU);
        tower.LoadPretrained();
        using var pixels = HfFixtures.ReadReference("clip.safetensors", "pixel_values");
        using var expected = HfFixtures.ReadReference("clip.safetensors", "last_hidden_state");
        using var noGrad = no_grad();
        using var full = tower.LastHiddenState(pixels);
        using var features = tower.forward(pixels);

        Assert.True(MaxDiff("clip (with CLS)", full, expected) < 1e-4f);
        Assert.Equal(expected.shape[1] - 1, features.shape[1]);
        Assert.True(MaxDiff("clip (CLS stripped)", features, expected.narrow(1, 1, expected.shape[1] - 1)) < 1e-4f);
    }

    [Fact]
    public void AVlmBuiltWithASiglipEncoderCarriesTheTowersWeightsNotItsInit()
    {
        var config = HfFixtures.CrossAttentionConfig() with
        {
            VisionEncoder = new Forge.Model.Config.VisionEncoderConfig { Type = "siglip", Path = HfFixtures.Dir("siglip"), FeatureDim = 32, NumTokens = 16, ImageSize = 32, PatchSize = 8 },
        };
        using var vlm = Forge.Model.Modeling.VlmRegistry.Build(config, CPU, ScalarType.Float32);
        using var pixels = HfFixtures.ReadReference("siglip.safetensors", "pixel_values");
        using var expected = HfFixtures.ReadReference("siglip.safetensors", "last_hidden_state");
        using var noGrad = no_grad();
        using var features = vlm.vision_encoder.forward(pixels);

        Assert.True(MaxDiff("siglip inside the VLM", features, expected) < 1e-4f);
        Assert.All(vlm.vision_encoder.parameters(), p => Assert.False(p.requires_grad));
    }

    [Fact]
    public void ATowerCheckpointOfAnotherSizeIsAnErrorNamingTheTensor()
    {
        var dir = Directory.CreateTempSubdirectory("forge-tower-").FullName;
        try
        {
            foreach (var f in Directory.GetFiles(HfFixtures.Dir("siglip"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            var config = File.ReadAllText(Path.Combine(dir, "config.json")).Replace("\"intermediate_size\": 64", "\"intermediate_size\": 48");
            File.WriteAllText(Path.Combine(dir, "config.json"), config);
            using var tower = new SiglipVisionTower(dir, CPU);
            var e = Assert.Throws<InvalidDataException>(tower.LoadPretrained);
            Assert.Contains("'encoder.layers.0.mlp.fc1.weight' is [64, 32] in the file but [48, 32]", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("siglip", 32, 0.5)]
    [InlineData("clip", 32, 0.48145466)]
    public void ThePreprocessorConfigGivesTheTowersSizeAndNormalisation(string tower, int size, double firstMean)
    {
        var p = HfImagePreprocessing.Read(HfFixtures.Dir(tower));
        Assert.Equal(size, p.ImageSize);
        Assert.Equal(firstMean, p.Mean[0]);
        Assert.Equal(tower == "clip", p.CenterCrop);
    }

    [Theory]
    [InlineData("siglip")]
    [InlineData("clip")]
    public void AnImageAtTheTowersSizePreprocessesAsTransformersDoes(string tower)
    {
        var p = HfImagePreprocessing.Read(HfFixtures.Dir(tower));
        var transform = new ImageTransform(p.ImageSize, p.Mean, p.Std);
        var chw = new float[transform.PixelCount];
        transform.DecodeInto(HfFixtures.Reference("image-square.png"), chw);
        using var got = tensor(chw, [1, 3, p.ImageSize, p.ImageSize]);
        using var expected = HfFixtures.ReadReference($"{tower}.safetensors", "pixels.square");
        Assert.True(MaxDiff($"{tower} pixels (no resize)", got, expected) < 1e-5f);
    }

    [Theory]
    [InlineData("clip")]
    public void ALargerImageIsCroppedAndResizedCloseToTransformers(string tower)
    {
        // Skia's linear filter with mipmaps against PIL's bicubic: the same crop and scale, not the same kernel.
        var p = HfImagePreprocessing.Read(HfFixtures.Dir(tower));
        var transform = new ImageTransform(p.ImageSize, p.Mean, p.Std);
        var chw = new float[transform.PixelCount];
        transform.DecodeInto(HfFixtures.Reference("image-wide.png"), chw);
        using var got = tensor(chw, [1, 3, p.ImageSize, p.ImageSize]);
        using var expected = HfFixtures.ReadReference($"{tower}.safetensors", "pixels.wide");
        var meanDiff = (got - expected).abs().mean().item<float>();
        output.WriteLine($"{tower} pixels (48x40 -> crop, resize): mean |diff| = {meanDiff:E2}");
        Assert.True(MaxDiff($"{tower} pixels (resized)", got, expected) < 0.25f);
        Assert.True(meanDiff < 0.05f);
    }
}
