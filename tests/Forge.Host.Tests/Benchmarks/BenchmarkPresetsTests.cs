using Forge.Host.Benchmarks;
using Forge.Host.Configuration;

namespace Forge.Host.Tests.Benchmarks;

public sealed class BenchmarkPresetsTests
{
    public static TheoryData<string> Presets() => [.. BenchmarkPresets.Names];

    /// <summary>
    /// The preset the benchmark loads (from the build output's copy of config/) is the JobConfig the
    /// repository's config file describes, key for key, defaults included.
    /// </summary>
    [Theory]
    [MemberData(nameof(Presets))]
    public void EachPresetIsItsShippedConfigFile(string preset)
    {
        var shipped = JobConfigLoader.Load(Path.Combine(RepositoryPaths.Root, "config", BenchmarkPresets.FileOf(preset)));

        Assert.Equal(JobConfigWriter.ToToml(shipped), JobConfigWriter.ToToml(BenchmarkPresets.Load(preset)));
    }

    [Fact]
    public void TheCa1bPresetIsConfigCa1bGpuWithMaxSeqLen512()
    {
        var config = BenchmarkPresets.Load("ca-1b");

        Assert.Equal("ca-1b-gpu.toml", BenchmarkPresets.FileOf("ca-1b"));
        Assert.Equal(512, config.Model.MaxSeqLen);
    }

    [Fact]
    public void AnUnknownPresetNamesTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => BenchmarkPresets.Load("ca-7b"));

        Assert.Contains("ca-7b", e.Message);
        Assert.All(BenchmarkPresets.Names, name => Assert.Contains(name, e.Message));
    }
}
