using Forge.Host.Configuration;
using Forge.Model.Config;

namespace Forge.Host.Tests.Configuration;

public sealed class ResolvedConfigTests
{
    [Fact]
    public void TheResolvedFileReloadsToTheSameConfigIncludingOverrides()
    {
        using var dir = new TempDirectory();
        var original = JobConfigLoader.Parse("run_name = \"r\"\n[vlm]\nfreeze = []\n", "r.toml", ["train.max_steps=7", "optimizer.betas=[0.8, 0.9]"]);

        var path = JobConfigWriter.Save(original, dir.Path);
        var reloaded = JobConfigLoader.Load(path);

        Assert.Equal(Path.Combine(dir.Path, "config.resolved.toml"), path);
        Assert.Equal(7, reloaded.Train.MaxSteps);
        Assert.Equal([0.8, 0.9], reloaded.Optimizer.Betas);
        Assert.Empty(reloaded.Vlm.Freeze);
        Assert.Equal(JobConfigWriter.ToToml(original), JobConfigWriter.ToToml(reloaded));
    }

    [Theory]
    [InlineData("manifest = \"a/train.jsonl\"", new[] { "a/train.jsonl" })]
    [InlineData("manifest = [\"a/train.jsonl\"]", new[] { "a/train.jsonl" })]
    [InlineData("manifest = [\"a/train.jsonl\", \"b/train.jsonl\"]", new[] { "a/train.jsonl", "b/train.jsonl" })]
    public void DataManifestIsOnePathOrAListAndTheResolvedFileReloadsIt(string line, string[] manifests)
    {
        var config = JobConfigLoader.Parse($"[data]\n{line}\n", "m.toml");
        var reloaded = JobConfigLoader.Parse(JobConfigWriter.ToToml(config), "config.resolved.toml");

        Assert.Equal(manifests, config.Data.Manifests);
        Assert.Equal(manifests, reloaded.Data.Manifests);
        Assert.Equal(manifests, JobConfigLoader.Parse("", "m.toml", [$"data.{line.Replace(" = ", "=")}"]).Data.Manifests);
    }

    [Fact]
    public void TheResolvedFileSpellsOutEveryKeyOfEverySection()
    {
        var toml = JobConfigWriter.ToToml(new JobConfig());

        foreach (var section in new[] { "model", "train", "optimizer", "scheduler", "data", "checkpoint", "distributed", "vision_encoder", "adapter", "vlm", "metrics", "elastic" })
            Assert.Contains($"[{section}]", toml);
        Assert.Contains("n_kv_heads = 0", toml);
        Assert.Contains("chunk_mib = 16", toml);
        Assert.Contains("cross_attention_every_n_layers = 4", toml);
    }

    [Fact]
    public void TheDefaultConfigIsValid()
    {
        var reloaded = JobConfigLoader.Parse(JobConfigWriter.ToToml(new JobConfig()), "defaults.toml");

        Assert.Equal(new JobConfig().Model, reloaded.Model);
        Assert.Equal(["vision_encoder"], reloaded.Vlm.Freeze.Select(f => f.Module));
    }
}
