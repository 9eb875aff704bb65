using Forge.Actors.Checkpointing;
using Forge.Host.Configuration;
using Forge.Host.Hosting;
using Forge.Host.Output;
using Forge.Model.Config;
using Forge.Model.Data;
using Forge.Model.Evaluation;
using Forge.Model.Modeling;
using Forge.Model.Optim;
using Forge.Model.Tests.Data;
using static TorchSharp.torch;

namespace Forge.Host.Tests.Hosting;

/// <summary>End-of-run captions from a run's committed checkpoint, with a tiny ViT cross-attention model.</summary>
public sealed class HeldOutCaptionsTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TemporaryFolder _data = new();
    private readonly string _heldOut;

    public HeldOutCaptionsTests()
    {
        _heldOut = TestDataSets.WriteManifest(_data, "eval.jsonl",
            [("red heart", null), ("blue car", null), ("green tree", null), ("yellow sun", null), ("black cat", null)], imageSize: 8);
    }

    public void Dispose()
    {
        _data.Dispose();
        _dir.Dispose();
    }

    private JobConfig Config(int generateSamples = 3, string? evalManifest = null, int scoreSamples = 0) => JobConfigLoader.Parse($"""
        run_name = "tiny"
        [model]
        dim = 16
        n_layers = 2
        n_heads = 2
        vocab_size = 264
        max_seq_len = 16
        [vlm]
        max_text_len = 8
        cross_attention_every_n_layers = 2
        freeze = []
        [vision_encoder]
        type = "vit"
        feature_dim = 8
        image_size = 8
        patch_size = 4
        num_tokens = 4
        n_layers = 1
        n_heads = 2
        [data]
        eval_manifest = "{evalManifest ?? _heldOut}"
        image_size = 8
        [train]
        generate_samples = {generateSamples}
        score_samples = {scoreSamples}
        """, "tiny.toml");

    /// <summary>Commits, as the run's checkpoint at `step`, the weights of the model `config` builds (a world of one).</summary>
    private static async Task Commit(JobConfig config, RunDirectory run, long step)
    {
        using var model = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        var layout = FlatParameterLayout.For(model.Module, worldSize: 1);
        using var flat = layout.Gather(model.Module, ScalarType.Float32, CPU);
        var master = flat.data<float>().ToArray();
        var store = await JobBackend.OpenCheckpointStoreAsync(config, run, CancellationToken.None);
        try
        {
            var receipt = await store.SaveShardAsync(config.RunName, step, 0,
                new OptimizerShard(0, master.Length, master, new float[master.Length], new float[master.Length], step));
            await store.CommitAsync(new CheckpointManifest
            {
                JobId = config.RunName, Step = step, WorldSize = 1, Layout = layout.Info, Shards = [receipt],
                DataEpoch = 0, DataPosition = 0, SamplesConsumed = 0, RngSeed = config.Train.Seed, SchedulerStep = step,
                FrozenParameters = [], ModelConfigHash = "", CommittedAt = DateTimeOffset.UtcNow,
            });
        }
        finally
        {
            await JobBackend.CloseAsync(store);
        }
    }

    private static IReadOnlyList<GeneratedCaption> CaptionsBy(JobConfig config, ImageTextDataset heldOut, IReadOnlyList<GeneratedCaption> of)
    {
        var rowOf = Enumerable.Range(0, heldOut.Count).ToDictionary(r => heldOut[r].ImagePath);
        using var model = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        return new GreedyCaptioner(heldOut).Generate(model, [.. of.Select(c => rowOf[c.ImagePath])], CPU);
    }

    [Fact]
    public async Task CaptionsAreGeneratedByTheCommittedWeightsNotByAFreshBuild()
    {
        var config = Config();
        // The checkpoint holds another seed's weights: captions that match them came from the store.
        var trained = config with { Train = config.Train with { Seed = 7 } };
        var run = new RunDirectory(_dir.File("tiny"));
        await Commit(config, run, step: 2);
        await Commit(trained, run, step: 5);

        var report = await HeldOutCaptions.FromLatestCheckpointAsync(config, run, CancellationToken.None);

        Assert.NotNull(report);
        Assert.Equal(5, report.Step);
        var result = Assert.Single(report.Tests);
        Assert.Equal(HeldOutTestReport.UnseenNames, result.Name);
        Assert.Equal(3, result.Captions.Select(c => c.ImagePath).Distinct().Count());
        var heldOut = ImageTextDataset.Open(_heldOut, config.Data, config.Vlm.MaxTextLen);
        var byTrained = CaptionsBy(trained, heldOut, result.Captions);
        var byFresh = CaptionsBy(config, heldOut, result.Captions);
        Assert.Equal(byTrained, result.Captions);
        Assert.NotEqual(byFresh.Select(c => c.Generated), result.Captions.Select(c => c.Generated));
        Assert.All(result.Captions, c => Assert.Contains(c.Reference, new[] { "red heart", "blue car", "green tree", "yellow sun", "black cat" }));
    }

    [Fact]
    public async Task ThereAreNoCaptionsWithoutACommittedCheckpointOrWhenTheyAreOff()
    {
        var config = Config();
        var empty = new RunDirectory(_dir.File("empty"));
        Assert.Null(await HeldOutCaptions.FromLatestCheckpointAsync(config, empty, CancellationToken.None));

        var run = new RunDirectory(_dir.File("tiny"));
        await Commit(config, run, step: 1);
        Assert.Null(await HeldOutCaptions.FromLatestCheckpointAsync(Config(generateSamples: 0, scoreSamples: 0), run, CancellationToken.None));
        Assert.Null(await HeldOutCaptions.FromLatestCheckpointAsync(Config(evalManifest: ""), run, CancellationToken.None));
    }

    [Fact]
    public async Task ScoresAndEvalLossAreThoseOfTheCommittedWeightsOverTheFirstScoreSamplesImages()
    {
        var config = Config(generateSamples: 2, scoreSamples: 4);
        var trained = config with { Train = config.Train with { Seed = 7 } };
        var run = new RunDirectory(_dir.File("tiny"));
        await Commit(trained, run, step: 3);

        var test = Assert.Single((await HeldOutCaptions.FromLatestCheckpointAsync(config, run, CancellationToken.None))!.Tests);

        var heldOut = ImageTextDataset.Open(_heldOut, config.Data, config.Vlm.MaxTextLen);
        var evaluator = new HeldOutEvaluator(heldOut, config.Data.Seed);
        Assert.Equal(4, test.Captions.Count);
        Assert.Equal(2, test.Shown.Count());
        Assert.Equal(evaluator.Rows.Take(4).Select(r => heldOut[r].ImagePath), test.Captions.Select(c => c.ImagePath));
        Assert.Equal(CaptionScores.Of(test.Captions.ToArray()), test.Scores);
        using var model = VlmRegistry.Build(trained, CPU, ScalarType.Float32);
        var expected = evaluator.Evaluate(model, CPU, config.Train.BatchSize, config.Train.EvalBatches).MeanLoss;
        Assert.Equal(expected, test.EvalLoss!.Value, 1e-5);
    }

    [Fact]
    public async Task ACheckpointOfAnotherModelIsRejectedByParameterName()
    {
        var config = Config();
        var run = new RunDirectory(_dir.File("tiny"));
        await Commit(config with { Model = config.Model with { NLayers = 4 } }, run, step: 1);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => HeldOutCaptions.FromLatestCheckpointAsync(config, run, CancellationToken.None));
        Assert.Contains("which the configured model does not have", error.Message);
    }
}
