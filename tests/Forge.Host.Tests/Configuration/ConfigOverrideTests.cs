using Forge.Host.Configuration;

namespace Forge.Host.Tests.Configuration;

public sealed class ConfigOverrideTests
{
    private const string Base = "run_name = \"base\"\n[model]\ndim = 128\nn_heads = 4\n";

    [Fact]
    public void OverridesAreTypedLikeFileValues()
    {
        var config = JobConfigLoader.Parse(Base, "base.toml",
        [
            "model.dim=256", "optimizer.lr=1e-3", "metrics.tensorboard=false", "optimizer.betas=[0.8, 0.9]",
            "run_name=\"quoted\"", "scheduler.name=linear",
        ]);

        Assert.Equal(256, config.Model.Dim);
        Assert.Equal(1e-3, config.Optimizer.Lr);
        Assert.False(config.Metrics.Tensorboard);
        Assert.Equal([0.8, 0.9], config.Optimizer.Betas);
        Assert.Equal("quoted", config.RunName);
        Assert.Equal("linear", config.Scheduler.Name);
    }

    [Fact]
    public void AnOverrideCanAddASectionTheFileLacks()
    {
        var config = JobConfigLoader.Parse(Base, "base.toml", ["elastic.max_ranks=4"]);

        Assert.Equal(4, config.Elastic.MaxRanks);
    }

    [Fact]
    public void TheLastOverrideOfAKeyWins()
    {
        var config = JobConfigLoader.Parse(Base, "base.toml", ["train.max_steps=10", "train.max_steps=20"]);

        Assert.Equal(20, config.Train.MaxSteps);
    }

    [Fact]
    public void AnOverrideCanEmptyAList()
    {
        var config = JobConfigLoader.Parse(Base, "base.toml", ["vlm.freeze=[]"]);

        Assert.Empty(config.Vlm.Freeze);
    }

    [Fact]
    public void AWronglyTypedOverrideIsBlamedOnTheOverride()
    {
        var e = Assert.Throws<ConfigException>(() => JobConfigLoader.Parse(Base, "base.toml", ["model.dim=wide"]));

        var error = Assert.Single(e.Errors);
        Assert.Equal("--set model.dim=wide: model.dim = \"wide\": expected an integer", error.ToString());
    }

    [Fact]
    public void AnImpossibleOverrideIsBlamedOnTheOverride()
    {
        var e = Assert.Throws<ConfigException>(() => JobConfigLoader.Parse(Base, "base.toml", ["model.n_heads=3"]));

        var error = Assert.Single(e.Errors);
        Assert.Equal(ConfigLocation.Override("model.n_heads=3"), error.Location);
        Assert.Contains("a divisor of model.dim (128)", error.Expected);
    }

    [Fact]
    public void AMisspeltOverrideKeyGetsASuggestion()
    {
        var e = Assert.Throws<ConfigException>(() => JobConfigLoader.Parse(Base, "base.toml", ["trian.max_steps=5"]));

        var error = Assert.Single(e.Errors);
        Assert.Equal("trian", error.Key);
        Assert.Equal("--set trian.max_steps=5", error.Location.Source);
        Assert.Contains("did you mean 'train'?", error.Expected);
    }

    [Theory]
    [InlineData("model.dim")]
    [InlineData("=5")]
    [InlineData("model..dim=5")]
    public void AnAssignmentWithoutKeyAndValueIsRejected(string assignment)
    {
        var e = Assert.Throws<ConfigException>(() => JobConfigLoader.Parse(Base, "base.toml", [assignment]));

        Assert.Contains("section.key=value", e.Message);
        Assert.Contains(assignment, e.Message);
    }
}
