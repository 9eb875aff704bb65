using Forge.Actors.Protocol;
using Forge.Actors.Tests.Collectives;
using Forge.Model.Config;
using Forge.Model.Data;
using Forge.Model.Distributed;
using Forge.Model.Evaluation;
using Forge.Model.Modeling;
using Forge.Model.Tests.Data;
using Forge.Model.Tests.Training;
using Forge.Model.Tests.Training.Fixtures;
using Forge.Model.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Forge.Actors.Tests.Equivalence;

/// <summary>
/// The held-out loss an engine reports on eval steps: the tiny cross-attention VLM trained on
/// synthetic captions, scored on a 7-image held-out manifest (byte tokenizer). With eval_interval 2 and
/// max_steps 5, steps 2 and 4 done are eval steps, and so is the last (5). Two ranks split the held-out rows
/// 3 + 3 of the 6 that eval_batches 3 x batch_size 2 select, so a row lost or counted twice, or a
/// mean taken per rank instead of over all tokens, changes the value by far more than the 1e-5 allowed
/// for fp32 summation order.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public sealed class HeldOutLossEquivalenceTests : IDisposable
{
    private const int Steps = 5;
    private const double Tolerance = 1e-5;
    private static readonly object BuildLock = new();

    private readonly ITestOutputHelper _output;
    private readonly TemporaryFolder _folder = new();
    private readonly HeldOutEvaluator _heldOut;

    public HeldOutLossEquivalenceTests(ITestOutputHelper output)
    {
        _output = output;
        var manifest = TestDataSets.WriteManifest(_folder, "eval.jsonl",
            [("red", null), ("green", null), ("blue", "a:"), ("cat", null), ("dog", "b:"), ("sun", null), ("moon", null)], imageSize: 8);
        _heldOut = new HeldOutEvaluator(TestDataSets.Open(manifest, imageSize: 8, maxTextLen: 8), seed: 5);
    }

    public void Dispose() => _folder.Dispose();

    private static JobConfig Config() => EngineReference.Config(globalBatch: 4, microBatch: 2) with
    {
        Model = new ModelConfig { Dim = 32, NLayers = 2, NHeads = 2, VocabSize = 264, MaxSeqLen = 16 },
        VisionEncoder = new VisionEncoderConfig { Type = "vit", FeatureDim = 16, NumTokens = 4, ImageSize = 8, PatchSize = 4, NLayers = 1, NHeads = 2, MlpRatio = 2 },
        Vlm = new VlmConfig { Arch = "cross_attention", CrossAttentionEveryNLayers = 2, MaxTextLen = 8 },
        Train = EngineReference.Config(4, 2).Train with { MaxSteps = Steps, EvalInterval = 2, EvalBatches = 3 },
    };

    [Fact]
    public void EvalStepsReportTheHeldOutLossOfTheUpdatedWeights()
    {
        var config = Config();
        using var data = new SyntheticCaptions(4, textLength: 8, imageSize: 8);
        using var engine = Engine(new SingleRankCollectives(), config, data);

        for (var step = 0; step < Steps; step++)
        {
            var result = engine.RunStep(step);
            if (step is 1 or 3 or 4)
            {
                // Scored again from outside, on the engine's replica as the step left it.
                var expected = _heldOut.Evaluate(engine.Model, CPU, batchSize: 2, maxBatches: 3);
                Assert.Equal(6, expected.Samples);
                Assert.NotNull(result.WorldEvalLoss?.UnseenNames);
                Assert.Equal(expected.MeanLoss, result.WorldEvalLoss!.UnseenNames!.Value, Tolerance);
                Assert.Null(result.WorldEvalLoss.UnseenArt);
            }
            else
            {
                Assert.Null(result.WorldEvalLoss);
            }
        }
    }

    [Fact]
    public void TwoRanksReportTheHeldOutLossOfOneRank()
    {
        var config = Config();
        var one = EvalLosses(new SingleRankCollectives(), config);
        var two = LoopbackGroup.Run(2, group => EvalLosses(group, config));

        _output.WriteLine($"1 rank: {string.Join(", ", one)}; 2 ranks: {string.Join(" | ", two.Select(r => string.Join(", ", r)))}");
        Assert.Equal(3, one.Count(l => l is not null));
        foreach (var rank in two)
        {
            Assert.Equal(one.Select(l => l is null), rank.Select(l => l is null));
            foreach (var (expected, actual) in one.Zip(rank).Where(p => p.Item1 is not null))
                Assert.Equal(expected!.Value, actual!.Value, Tolerance);
        }
    }

    [Fact]
    public void WithAnUnseenArtSetEachTestReportsItsOwnLossAndTwoRanksAgreeWithOne()
    {
        var config = Config();
        var artManifest = TestDataSets.WriteManifest(_folder, "art.jsonl",
            [("moon", null), ("cat", null), ("red", null), ("sun", null), ("dog", null)], imageSize: 8);
        var art = new HeldOutEvaluator(TestDataSets.Open(artManifest, imageSize: 8, maxTextLen: 8), seed: 5);
        HeldOutLosses?[] Run(ICollectives group, Action<ShardedRankEngine, HeldOutLosses>? check = null)
        {
            using var data = new SyntheticCaptions(4, textLength: 8, imageSize: 8);
            using var engine = new ShardedRankEngine(() => Build(config), data, group, config, heldOut: _heldOut, unseenArt: art);
            return [.. Enumerable.Range(0, Steps).Select(step =>
            {
                var losses = engine.RunStep(step).WorldEvalLoss;
                if (losses is not null) check?.Invoke(engine, losses);
                return losses;
            })];
        }

        // All 5 art rows (fewer than eval_batches 3 x batch_size 2), scored on the replica the step left.
        var one = Run(new SingleRankCollectives(), (engine, losses) =>
            Assert.Equal(art.Evaluate(engine.Model, CPU, batchSize: 2, maxBatches: 3).MeanLoss, losses.UnseenArt!.Value, Tolerance));
        var two = LoopbackGroup.Run(2, group => Run(group));

        // The unseen-names loss is the one an engine without the art set reports: the tests do not mix.
        var namesOnly = EvalLosses(new SingleRankCollectives(), config);
        Assert.Equal(namesOnly.Select(l => l is null), one.Select(l => l is null));
        foreach (var (expected, actual) in namesOnly.Zip(one).Where(p => p.Item1 is not null))
            Assert.Equal(expected!.Value, actual!.UnseenNames!.Value, Tolerance);
        Assert.Equal(3, one.Count(l => l?.UnseenArt is not null));
        foreach (var rank in two)
            foreach (var (expected, actual) in one.Zip(rank))
            {
                Assert.Equal(expected is null, actual is null);
                if (expected is null) continue;
                Assert.Equal(expected.UnseenNames!.Value, actual!.UnseenNames!.Value, Tolerance);
                Assert.Equal(expected.UnseenArt!.Value, actual.UnseenArt!.Value, Tolerance);
            }
    }

    [Fact]
    public void AnEngineWithoutAHeldOutSetOrWithEvalInterval0NeverEvaluates()
    {
        var config = Config();
        using var data = new SyntheticCaptions(4, textLength: 8, imageSize: 8);
        using var withoutSet = new ShardedRankEngine(() => Build(config), data, new SingleRankCollectives(), config);
        using var intervalZero = Engine(new SingleRankCollectives(), config with { Train = config.Train with { EvalInterval = 0 } }, data);

        Assert.All(Enumerable.Range(0, Steps), step => Assert.False(withoutSet.IsEvalStep(step)));
        Assert.All(Enumerable.Range(0, Steps), step => Assert.False(intervalZero.IsEvalStep(step)));
        Assert.Null(withoutSet.RunStep(1).WorldEvalLoss);
    }

    private double?[] EvalLosses(ICollectives group, JobConfig config)
    {
        using var data = new SyntheticCaptions(4, textLength: 8, imageSize: 8);
        using var engine = Engine(group, config, data);
        return [.. Enumerable.Range(0, Steps).Select(step => engine.RunStep(step).WorldEvalLoss?.UnseenNames)];
    }

    private ShardedRankEngine Engine(ICollectives group, JobConfig config, IBatchSource data) =>
        new(() => Build(config), data, group, config, heldOut: _heldOut);

    /// <summary>VlmRegistry.Build seeds torch's global RNG: one build at a time makes rank 0's weights the one-rank run's.</summary>
    private static VisionLanguageModel Build(JobConfig config)
    {
        lock (BuildLock) return VlmRegistry.Build(config, CPU, ScalarType.Float32);
    }
}
