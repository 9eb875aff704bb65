using Forge.Model.Config;
using Forge.Model.Distributed;
using Forge.Model.Optim;
using Forge.Model.Tests.Training.Fixtures;
using Forge.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Training;

public class ShardedRankEngineTests
{
    [Fact]
    public void OneRankWithGradientAccumulationReproducesTorchAdamWTrainingOnTheWholeBatch()
    {
        // 12 samples in micro-batches of 5, 5 and 2: accumulation must weight by tokens, not by micro-batch.
        var config = EngineReference.Config(globalBatch: 12, microBatch: 5);
        using var expected = EngineReference.Train(config, modelSeed: 3, steps: 10);
        using var data = new SyntheticCaptions(12);
        using var engine = new ShardedRankEngine(() => new TinyCaptionModel(3), data, new SingleRankCollectives(), config);
        var results = Enumerable.Range(0, 10).Select(s => engine.RunStep(s)).ToArray();

        using var actual = engine.MasterShard.narrow(0, 0, engine.Layout.Numel);
        var diff = (actual - expected).abs().max().item<float>();
        // fp32 throughout; only the summation order of the loss and the norm differ from the reference.
        Assert.True(diff < 1e-5f, $"max |engine - reference| = {diff}");
        Assert.All(results, r => Assert.Equal(12, r.RankSamples));
    }

    [Fact]
    public void StepResultsReportTheMeanLossTheGlobalTokensTheScheduledRateAndAPositiveNorm()
    {
        var config = EngineReference.Config(globalBatch: 8, microBatch: 3);
        using var data = new SyntheticCaptions(8);
        using var engine = new ShardedRankEngine(() => new TinyCaptionModel(3), data, new SingleRankCollectives(), config);
        var result = engine.RunStep(0);

        var batch = data.MicroBatches(0, 1, 0, 8).Single();
        Assert.Equal(batch.TargetTokens(), result.WorldTokens);
        using var fresh = new TinyCaptionModel(3);
        var (lossSum, tokens) = fresh.LossSum(batch);
        Assert.Equal(lossSum.item<float>() / tokens, result.WorldLoss, 5);
        Assert.Equal(config.Optimizer.Lr / 3, result.LearningRate, 12);
        Assert.True(result.WorldGradNorm > 0);
        Assert.True(result.RankTimings.Total >= result.RankTimings.Compute);
    }

    [Fact]
    public void TheComputeReplicaHoldsTheMasterWeightsAfterEachStep()
    {
        var config = EngineReference.Config(globalBatch: 4, microBatch: 4);
        using var data = new SyntheticCaptions(4);
        using var engine = new ShardedRankEngine(() => new TinyCaptionModel(3), data, new SingleRankCollectives(), config);
        engine.RunStep(0);
        var trainable = engine.Model.Module.parameters().Where(p => p.requires_grad).Select(p => p.detach().reshape(-1)).ToArray();
        Assert.True(cat(trainable).allclose(engine.MasterShard.narrow(0, 0, engine.Layout.Numel), rtol: 0, atol: 0));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(1)]
    public void AFreezeScheduleTrainsLikeTorchAdamWWhoseParameterHasNoGradientUntilUnfrozen(long unfreezeAt)
    {
        var config = EngineReference.Config(globalBatch: 6, microBatch: 4);
        using var expected = EngineReference.Train(config, modelSeed: 3, steps: 8, unfreezeMixAt: unfreezeAt);
        using var data = new SyntheticCaptions(6);
        {
            using var engine = new ShardedRankEngine(() => new TinyCaptionModel(3, unfreezeMixAt: unfreezeAt), data, new SingleRankCollectives(), config);
            Assert.Equal(TinyCaptionModel.TrainableElements + TinyCaptionModel.Dim * TinyCaptionModel.Dim, engine.Layout.Numel);
            var mix = engine.Layout.Parameters.Single(p => p.Name.StartsWith("Mix"));
            using var mixAtStart = engine.MasterShard.narrow(0, mix.Offset, mix.Numel).clone();
            for (var step = 0; step < 8; step++)
            {
                engine.RunStep(step);
                using var mixNow = engine.MasterShard.narrow(0, mix.Offset, mix.Numel);
                // Frozen means untouched: no weight decay, no momentum, until the stage starts.
                Assert.Equal(step + 1 <= unfreezeAt, mixNow.allclose(mixAtStart, rtol: 0, atol: 0));
            }
            using var actual = engine.MasterShard.narrow(0, 0, engine.Layout.Numel);
            var diff = (actual - expected).abs().max().item<float>();
            Assert.True(diff < 1e-5f, $"max |engine - reference| = {diff}");
        }
    }

    [Fact]
    public void ARunResumedBeforeAnUnfreezeContinuesExactlyAsTheUninterruptedRun()
    {
        var config = EngineReference.Config(globalBatch: 6, microBatch: 6);
        using var data = new SyntheticCaptions(6);
        OptimizerShard saved;
        Tensor uninterrupted;
        using (var engine = new ShardedRankEngine(() => new TinyCaptionModel(3, unfreezeMixAt: 4), data, new SingleRankCollectives(), config))
        {
            for (var step = 0; step < 3; step++) engine.RunStep(step);
            saved = engine.SnapshotShard();
            for (var step = 3; step < 8; step++) engine.RunStep(step);
            uninterrupted = engine.MasterShard.clone();
        }
        using var resumed = new ShardedRankEngine(() => new TinyCaptionModel(99, unfreezeMixAt: 4), data, new SingleRankCollectives(), config, firstStep: 3);
        resumed.LoadShard([saved]);
        Assert.False(resumed.Model.Module.named_parameters().Single(p => p.name.StartsWith("Mix")).parameter.requires_grad);
        for (var step = 3; step < 8; step++) resumed.RunStep(step);

        Assert.True(resumed.MasterShard.allclose(uninterrupted, rtol: 0, atol: 0), $"max diff {(resumed.MasterShard - uninterrupted).abs().max().item<float>()}");
        uninterrupted.Dispose();
    }

    [Fact]
    public void Bf16ComputeKeepsFp32MastersABf16ReplicaOfThemAndTracksFp32Training()
    {
        var config = EngineReference.Config(globalBatch: 12, microBatch: 5);
        using var expected = EngineReference.Train(config, modelSeed: 3, steps: 10);
        using var data = new SyntheticCaptions(12);
        using var engine = new ShardedRankEngine(() => new TinyCaptionModel(3), data, new SingleRankCollectives(), config,
            computeDtype: ScalarType.BFloat16);
        for (var s = 0; s < 10; s++) engine.RunStep(s);

        var master = engine.MasterShard.narrow(0, 0, engine.Layout.Numel);
        Assert.Equal(ScalarType.Float32, master.dtype);
        var replica = cat(engine.Model.Module.parameters().Where(p => p.requires_grad).Select(p => p.detach().reshape(-1)).ToArray());
        Assert.Equal(ScalarType.BFloat16, replica.dtype);
        Assert.True(replica.allclose(master.to(ScalarType.BFloat16), rtol: 0, atol: 0));
        // bf16 activations and gradients (8 mantissa bits, relative rounding about 4e-3) perturb each
        // update a little; observed 2.7e-3 against parameters that move about 0.2 in these 10 steps.
        var diff = (master - expected).abs().max().item<float>();
        Assert.True(diff < 1e-2f, $"max |bf16 engine - fp32 torch| = {diff}");
    }

    [Fact]
    public void AVisionLanguageEngineResumedFromASnapshotHoldsItsWeightsMomentsAndStep()
    {
        var config = EngineReference.Config(globalBatch: 4, microBatch: 2) with
        {
            Model = new ModelConfig { Dim = 16, NLayers = 2, NHeads = 2, VocabSize = 32, MaxSeqLen = 16 },
            VisionEncoder = new VisionEncoderConfig { Type = "random", FeatureDim = 8, NumTokens = 3 },
            Vlm = new VlmConfig { Arch = "cross_attention", CrossAttentionEveryNLayers = 2, MaxTextLen = 6 },
        };
        using var data = new SyntheticCaptions(4);
        OptimizerShard saved;
        using (var original = ShardedRankEngine.ForVisionLanguageModel(config, data, new SingleRankCollectives(), CPU))
        {
            original.RunStep(0);
            original.RunStep(1);
            saved = original.SnapshotShard();
        }
        using var resumed = ShardedRankEngine.ForVisionLanguageModel(config, data, new SingleRankCollectives(), CPU, saved);

        var again = resumed.SnapshotShard();
        Assert.Equal(2, again.Step);
        Assert.Equal(saved.Master, again.Master);
        Assert.Equal(saved.ExpAvgSq, again.ExpAvgSq);
        var replica = cat(resumed.Model.Module.parameters().Where(p => p.requires_grad).Select(p => p.detach().reshape(-1)).ToArray());
        Assert.Equal(saved.Master.Take((int)resumed.Layout.Numel), replica.data<float>().ToArray());
    }
}
