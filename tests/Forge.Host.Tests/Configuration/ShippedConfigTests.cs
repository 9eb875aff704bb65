using Forge.Host.Configuration;
using Forge.Model.Config;

namespace Forge.Host.Tests.Configuration;

public sealed class ShippedConfigTests
{
    public static TheoryData<string> ShippedConfigs()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(RepositoryPaths.Config, "*.toml").Order()) data.Add(Path.GetFileName(file));
        return data;
    }

    [Fact]
    public void TheReadmeListsExactlyTheShippedConfigs()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "README.md"));
        var documented = System.Text.RegularExpressions.Regex.Matches(readme, @"(?m)^\| `config/([a-z0-9_.-]+\.toml)` \|")
            .Select(m => m.Groups[1].Value).Order();

        var shipped = Directory.GetFiles(RepositoryPaths.Config, "*.toml").Select(f => Path.GetFileName(f)!).Order();

        Assert.Equal(shipped, documented);
    }

    [Theory]
    [MemberData(nameof(ShippedConfigs))]
    public void EveryShippedConfigLoadsValidatesAndSurvivesItsResolvedCopy(string name)
    {
        var config = LoadShipped(name);
        var resolved = JobConfigWriter.ToToml(config);

        var reloaded = JobConfigLoader.Parse(resolved, $"{name} (resolved)");

        Assert.Equal(resolved, JobConfigWriter.ToToml(reloaded));
        Assert.Equal(Path.GetFileNameWithoutExtension(name), config.RunName);
    }

    /// <summary>
    /// A shipped config as `forge` reads it from the repository root, where its relative paths
    /// point (the fixture models of warmstart-ca.toml are checked to exist; data manifests are not).
    /// </summary>
    private static Forge.Model.Config.JobConfig LoadShipped(string name)
    {
        var path = Path.Combine(RepositoryPaths.Config, name);
        var text = File.ReadAllText(path).Replace("\"tests/Fixtures/", $"\"{RepositoryPaths.Root}/tests/Fixtures/", StringComparison.Ordinal);
        return JobConfigLoader.Parse(text, path);
    }

    [Fact]
    public void TheWarmStartRecipeFreezesTheTextModelAndTowerThenUnfreezesTheTextModel()
    {
        var config = LoadShipped("warmstart-ca.toml");

        // [model] and the tower's shape came from the fixture directories.
        Assert.Equal((32, 2, 384), (config.Model.Dim, config.Model.NLayers, config.Model.VocabSize));
        Assert.Equal(("siglip", 32, 16, 32), (config.VisionEncoder.Type, config.VisionEncoder.FeatureDim, config.VisionEncoder.NumTokens, config.Data.ImageSize));
        Assert.Equal(["vision_encoder", "transformer", "cross_attention"], config.Vlm.Freeze.Select(f => f.Module));
        Assert.False(config.Vlm.Freeze[2].Frozen);
        var stage = Assert.Single(config.Vlm.FreezeSchedule);
        Assert.True(stage.StartStep > 0 && stage.StartStep < config.Train.MaxSteps);
        Assert.Equal("transformer", Assert.Single(stage.Specs).Module);
        Assert.False(stage.Specs[0].Frozen);
    }

    [Fact]
    public void TheTinyDemoTrainsItsRandomlyInitialisedVitWithOneImageTokenPerPatch()
    {
        var config = JobConfigLoader.Load(Path.Combine(RepositoryPaths.Config, "ca-tiny-cpu.toml"));
        var v = config.VisionEncoder;

        // A ViT that starts from random weights, not the "random" stub encoder; freeze = [] trains it.
        Assert.Equal(VisionEncoderConfig.Vit, v.Type);
        Assert.Empty(config.Vlm.Freeze);
        Assert.Equal((v.ImageSize / v.PatchSize) * (v.ImageSize / v.PatchSize), v.NumTokens);
        Assert.Equal("byte", config.Data.Tokenizer);
    }

    [Fact]
    public void TheCa1bConfigIsThe1BClassCrossAttentionModelWithRandomImageTokens()
    {
        var m = JobConfigLoader.Load(Path.Combine(RepositoryPaths.Config, "ca-1b-gpu.toml"));

        Assert.Equal((2048, 16, 16, 8, 32000), (m.Model.Dim, m.Model.NLayers, m.Model.NHeads, m.Model.NKvHeads, m.Model.VocabSize));
        Assert.Equal((4, 512), (m.Vlm.CrossAttentionEveryNLayers, m.Vlm.MaxTextLen));
        Assert.Equal(("random", 256, 1024), (m.VisionEncoder.Type, m.VisionEncoder.NumTokens, m.VisionEncoder.FeatureDim));
        Assert.Equal("mlp_2layer", m.Adapter.Type);
    }
}
