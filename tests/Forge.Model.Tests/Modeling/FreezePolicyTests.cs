using Forge.Model.Config;
using Forge.Model.Modeling;

namespace Forge.Model.Tests.Modeling;

public class FreezePolicyTests
{
    private static HashSet<string> Trainable(VisionLanguageModel model) =>
        model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToHashSet();

    [Fact]
    public void ByDefaultOnlyTheVisionEncoderIsFrozen()
    {
        using var model = TinyVlm.Build();
        var all = model.named_parameters().Select(p => p.name).ToList();
        Assert.Equal(all.Where(n => !n.StartsWith("vision_encoder.")).ToHashSet(), Trainable(model));
        Assert.Contains(all, n => n.StartsWith("vision_encoder."));
    }

    [Fact]
    public void AliasesAndGlobsSelectParametersAndLaterSpecsWin()
    {
        var config = TinyVlm.Config() with
        {
            Vlm = TinyVlm.Config().Vlm with
            {
                Freeze =
                [
                    new FreezeSpec { Module = "transformer", Frozen = true },
                    new FreezeSpec { Module = "cross_attention", Frozen = false },
                    new FreezeSpec { Module = "*.attn_norm.weight", Frozen = true },
                ],
            },
        };
        using var model = TinyVlm.Build(config);
        var expected = model.named_parameters().Select(p => p.name)
            .Where(n => n.StartsWith("vision_encoder.") || n.StartsWith("adapter.") ||
                        (n.StartsWith("transformer.cross_attention_layers.") && !n.EndsWith("attn_norm.weight")))
            .ToHashSet();
        Assert.Equal(expected, Trainable(model));
    }

    [Fact]
    public void TheScheduleChangesTheTrainableSetAtItsStartStep()
    {
        var config = TinyVlm.Config() with
        {
            Vlm = TinyVlm.Config().Vlm with
            {
                Freeze = [new FreezeSpec { Module = "vision_encoder" }, new FreezeSpec { Module = "transformer" }],
                FreezeSchedule = [new FreezeStage { StartStep = 10, Specs = [new FreezeSpec { Module = "transformer", Frozen = false }] }],
            },
        };
        using var model = TinyVlm.Build(config);
        model.ApplyFreezeFor(9);
        Assert.All(Trainable(model), n => Assert.StartsWith("adapter.", n));
        model.ApplyFreezeFor(10);
        Assert.Contains("transformer.layers.0.attention.q_proj.weight", Trainable(model));
        Assert.DoesNotContain(Trainable(model), n => n.StartsWith("vision_encoder."));
    }

    [Fact]
    public void ASpecThatMatchesNothingIsRejectedByName()
    {
        var config = TinyVlm.Config() with { Vlm = TinyVlm.Config().Vlm with { Freeze = [new FreezeSpec { Module = "transfomer.layers" }] } };
        var e = Assert.Throws<ArgumentException>(() => TinyVlm.Build(config));
        Assert.Contains("'transfomer.layers'", e.Message);
    }

    [Fact]
    public void AScheduleOutOfOrderIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new FreezePolicy([],
        [
            new FreezeStage { StartStep = 5 },
            new FreezeStage { StartStep = 5 },
        ]));
        Assert.Contains("start_step", e.Message);
    }
}
