using Forge.Actors.Tests.Collectives;
using Forge.Model.Config;
using Forge.Model.Distributed;
using Forge.Model.Modeling;
using Forge.Model.Tests.Training;
using Forge.Model.Tests.Training.Fixtures;
using Forge.Model.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Forge.Actors.Tests.Equivalence;

/// <summary>
/// A VLM with MoE MLPs (3 experts, top-2, a shared expert, capacity dropping, balance and z-losses
/// in the objective) trained by 2 and by 3 TCP ranks matches one rank: the flat layout and the sharded
/// AdamW take the expert and router parameters like any other, and the routing losses are weighted so
/// the world size does not change the objective. Every micro-batch has 2 samples in every world (12 =
/// 6 x 2 = 2 x 3 x 2 = 3 x 2 x 2), so routing, capacity and the losses see the same token sets.
/// Tolerance 1e-4, as for the cross-attention model (zero-initialised CA projections).
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class MoeModelEquivalenceTests(ITestOutputHelper output)
{
    private const int GlobalBatch = 12;
    private const int Steps = 3;

    private static readonly object BuildLock = new();

    private static JobConfig Config(string arch) => EngineReference.Config(GlobalBatch, microBatch: 2) with
    {
        Model = new ModelConfig
        {
            Dim = 32, NLayers = 2, NHeads = 2, VocabSize = 64, MaxSeqLen = 64, FfnHiddenDim = 32,
            NumExperts = 3, MoeTopK = 2, MoeFrequency = 1, MoeSharedExperts = 1, MoeCapacityFactor = 1.0,
            MoeAuxLossWeight = 0.05, MoeRouterZLossWeight = 0.01,
        },
        VisionEncoder = new VisionEncoderConfig { Type = "vit", FeatureDim = 16, NumTokens = 4, ImageSize = 8, PatchSize = 4, NLayers = 1, NHeads = 2, MlpRatio = 2 },
        Vlm = new VlmConfig { Arch = arch, CrossAttentionEveryNLayers = 2, MaxTextLen = 6 },
    };

    [Theory]
    [InlineData("cross_attention", 2)]
    [InlineData("cross_attention", 3)]
    [InlineData("joint_decoder", 3)]
    public void RanksTrainTheMoEModelLikeOneRank(string arch, int ranks)
    {
        var config = Config(arch);
        var one = Train(new SingleRankCollectives(), config);
        var many = LoopbackGroup.Run(ranks, group => Train(group, config));

        var sharded = many.SelectMany(s => s.Shard).Take(one.Shard.Length).ToArray();
        var diff = sharded.Zip(one.Shard, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"MoE {arch}, {ranks} ranks vs 1: max |diff| = {diff:E2} over {one.Shard.Length} parameters; loss {one.Last.WorldLoss:F5}, aux {one.Last.WorldRouting!.AuxLoss:F5}");
        Assert.True(diff <= 1e-4f, $"max |{ranks} ranks - 1 rank| = {diff}");
        foreach (var r in many)
        {
            Assert.Equal(one.Last.WorldLoss, r.Last.WorldLoss, 4);
            Assert.Equal(one.Last.WorldRouting!.AuxLoss, r.Last.WorldRouting!.AuxLoss, 4);
            Assert.Equal(one.Last.WorldRouting.ZLoss, r.Last.WorldRouting.ZLoss, 4);
            Assert.Equal(one.Last.WorldRouting.TokensPerExpert, r.Last.WorldRouting.TokensPerExpert);
        }
        // The routing losses are in the reported objective, and both MoE layers counted their tokens.
        Assert.Equal(2, one.Last.WorldRouting!.TokensPerExpert.Count);
        Assert.True(one.Last.WorldRouting.AuxLoss > 0);
    }

    private static (float[] Shard, StepResult Last) Train(ICollectives group, JobConfig config)
    {
        using var data = new SyntheticCaptions(GlobalBatch, textLength: 6, imageSize: 8);
        using var engine = new ShardedRankEngine(() =>
        {
            lock (BuildLock) return VlmRegistry.Build(config, CPU, ScalarType.Float32);
        }, data, group, config);
        StepResult? last = null;
        for (var s = 0; s < Steps; s++) last = engine.RunStep(s);
        var shard = engine.SnapshotShard().Master;
        Assert.Contains(engine.Layout.Parameters, p => p.Name == "transformer.layers.1.mlp.experts.2.down_proj.weight");
        Assert.Contains(engine.Layout.Parameters, p => p.Name == "transformer.layers.0.mlp.router.gate.weight");
        return (group.WorldSize == 1 ? shard.Take((int)engine.Layout.Numel).ToArray() : shard, last!);
    }
}
