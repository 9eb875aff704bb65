using Forge.Host.Configuration;
using Forge.Model.Config;

namespace Forge.Host.Tests.Configuration;

public sealed class FreezeSpecBindingTests
{
    [Fact]
    public void FreezeTablesAndScheduleStagesBindInOrder()
    {
        const string toml = """
            [[vlm.freeze]]
            module = "vision_encoder"

            [[vlm.freeze]]
            module = "transformer.layers.0.*"
            frozen = false

            [[vlm.freeze_schedule]]
            start_step = 100
            specs = [{ module = "vision_encoder", frozen = false }]

            [[vlm.freeze_schedule]]
            start_step = 200
            specs = [{ module = "adapter" }, { module = "cross_attention", frozen = true }]
            """;

        var vlm = JobConfigLoader.Parse(toml, "freeze.toml").Vlm;

        Assert.Equal(
            [new FreezeSpec { Module = "vision_encoder", Frozen = true }, new FreezeSpec { Module = "transformer.layers.0.*", Frozen = false }],
            vlm.Freeze);
        Assert.Equal([100L, 200L], vlm.FreezeSchedule.Select(s => s.StartStep));
        Assert.Equal([new FreezeSpec { Module = "vision_encoder", Frozen = false }], vlm.FreezeSchedule[0].Specs);
        Assert.Equal(["adapter", "cross_attention"], vlm.FreezeSchedule[1].Specs.Select(s => s.Module));
        Assert.All(vlm.FreezeSchedule[1].Specs, s => Assert.True(s.Frozen));
    }

    [Fact]
    public void AFreezeSpecWithoutAModuleIsAnError()
    {
        var e = Assert.Throws<ConfigException>(() => JobConfigLoader.Parse("[[vlm.freeze]]\nfrozen = true\n", "freeze.toml"));

        var error = Assert.Single(e.Errors);
        Assert.Equal("vlm.freeze[0].module", error.Key);
        Assert.Contains("required", error.Expected);
    }

    [Fact]
    public void AMisspeltKeyInsideAFreezeTableIsNamedWithItsIndex()
    {
        var e = Assert.Throws<ConfigException>(() => JobConfigLoader.Parse(
            "[[vlm.freeze]]\nmodule = \"adapter\"\n[[vlm.freeze]]\nmodule = \"adapter\"\nfrozn = true\n", "freeze.toml"));

        var error = Assert.Single(e.Errors);
        Assert.Equal("vlm.freeze[1].frozn", error.Key);
        Assert.Equal(5, error.Location.Line);
        Assert.Contains("did you mean 'frozen'?", error.Expected);
    }
}
