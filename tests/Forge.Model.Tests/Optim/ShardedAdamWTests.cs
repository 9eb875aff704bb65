using Forge.Model.Config;
using Forge.Model.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Optim;

public class ShardedAdamWTests
{
    private static readonly OptimizerConfig Config = new() { Lr = 1e-2, WeightDecay = 0.1, Betas = [0.9, 0.95], Eps = 1e-8 };

    [Theory]
    [InlineData(1, true)]
    [InlineData(3, true)]
    [InlineData(4, true)]
    [InlineData(1, false)]
    [InlineData(3, false)]
    public void ShardedUpdatesMatchTorchAdamWOnTheUnshardedParameters(int worldSize, bool fusedKernel)
    {
        using var generator = new Generator(11);
        long[][] shapes = [[5, 3], [7], [1]];
        var parameters = shapes.Select(s => new Parameter(randn(s, generator: generator))).ToArray();
        var numel = parameters.Sum(p => p.numel());
        var shardLength = (numel + worldSize - 1) / worldSize;
        var flat = zeros(shardLength * worldSize);
        flat.narrow(0, 0, numel).copy_(cat(parameters.Select(p => p.detach().reshape(-1)).ToArray()));
        var shards = Enumerable.Range(0, worldSize)
            .Select(r => new ShardedAdamW(flat.narrow(0, r * shardLength, shardLength).clone(), Config, fusedKernel)).ToArray();
        var reference = torch.optim.AdamW(parameters, Config.Lr, Config.Betas[0], Config.Betas[1], Config.Eps, Config.WeightDecay);

        for (var step = 0; step < 6; step++)
        {
            var lr = Config.Lr * (1 + step) / 6;
            var grads = shapes.Select(s => randn(s, generator: generator)).ToArray();
            for (var i = 0; i < parameters.Length; i++) parameters[i].grad = grads[i];
            foreach (var group in reference.ParamGroups) group.LearningRate = lr;
            reference.step();

            var flatGrad = zeros(shardLength * worldSize);
            flatGrad.narrow(0, 0, numel).copy_(cat(grads.Select(g => g.reshape(-1)).ToArray()));
            for (var r = 0; r < worldSize; r++) shards[r].Update(flatGrad.narrow(0, r * shardLength, shardLength), lr);
        }

        var sharded = cat(shards.Select(s => s.Master).ToArray());
        var expected = cat(parameters.Select(p => p.detach().reshape(-1)).ToArray());
        // The same formula (fused, or composed in torch's order): only libm/vectorisation rounding may differ.
        var diff = (sharded.narrow(0, 0, numel) - expected).abs().max().item<float>();
        Assert.True(diff <= 1e-6f, $"max |sharded - torch AdamW| = {diff}");
        Assert.Equal(0f, sharded.narrow(0, numel, shardLength * worldSize - numel).abs().sum().item<float>());
        Assert.All(shards, s => Assert.Equal(6, s.Step));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AClipGradScaleUpdatesAsTheGradientClippedByTorchsRule(bool fusedKernel)
    {
        using var generator = new Generator(3);
        var start = randn(17, generator: generator);
        using var scaled = new ShardedAdamW(start.clone(), Config, fusedKernel);
        using var preClipped = new ShardedAdamW(start.clone(), Config, fusedKernel);
        const double maxNorm = 0.5;
        for (var step = 0; step < 4; step++)
        {
            var grad = randn(17, generator: generator);
            var norm = grad.norm();
            // torch.nn.utils.clip_grad_norm_: g * min(1, max_norm / (norm + 1e-6)).
            var coefficient = Math.Min(1.0, maxNorm / (norm.item<float>() + 1e-6));
            Assert.True(coefficient < 1, "the test should exercise clipping");
            scaled.Update(grad.clone(), 1e-2, ShardedAdamW.ClipGradScale(norm, maxNorm));
            preClipped.Update(grad * coefficient, 1e-2);
        }
        var diff = (scaled.Master - preClipped.Master).abs().max().item<float>();
        Assert.True(diff <= 1e-6f, $"max |grad_scale clip - pre-clipped| = {diff}");
        Assert.True(scaled.ExpAvgSq.allclose(preClipped.ExpAvgSq, rtol: 1e-5, atol: 0));
    }

    [Fact]
    public void ClipGradScaleIsOneBelowTheThresholdAndAbsentWhenClippingIsOff()
    {
        using var norm = tensor(0.25f);
        Assert.Equal(1f, ShardedAdamW.ClipGradScale(norm, 1.0)!.item<float>());
        // (norm + 1e-6) / max_norm: dividing by 2 brings a norm of 0.25 down to 0.125.
        Assert.Equal(2.0, ShardedAdamW.ClipGradScale(norm, 0.125)!.item<float>(), 4);
        Assert.Null(ShardedAdamW.ClipGradScale(norm, 0));
    }

    [Fact]
    public void FusedAndComposedKernelsTakeTheSameSteps()
    {
        using var generator = new Generator(8);
        var start = randn(33, generator: generator);
        using var fused = new ShardedAdamW(start.clone(), Config, fusedKernel: true);
        using var composed = new ShardedAdamW(start.clone(), Config, fusedKernel: false);
        for (var step = 0; step < 5; step++)
        {
            var grad = randn(33, generator: generator);
            fused.Update(grad.clone(), 1e-2);
            composed.Update(grad.clone(), 1e-2);
        }
        Assert.Equal(fused.Step, composed.Step);
        var diff = (fused.Master - composed.Master).abs().max().item<float>();
        Assert.True(diff <= 1e-6f, $"max |fused - composed| = {diff}");
        Assert.NotEqual(0f, (fused.Master - start).abs().max().item<float>());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SegmentsUpdateOnlyTheirRunsWithTheirOwnStepLikeTorchAdamWSkippingAGradlessParameter(bool fusedKernel)
    {
        // Parameter a (5 elements) trains from the start; b (4) has no gradient for its first 3 steps, as a
        // frozen parameter has none. torch.optim.AdamW skips b until then, so b's first update uses step 1.
        using var generator = new Generator(21);
        var a = new Parameter(randn(5, generator: generator));
        var b = new Parameter(randn(4, generator: generator));
        var shard = new ShardedAdamW(cat([a.detach(), b.detach(), zeros(1)]).clone(), Config, fusedKernel);
        var reference = torch.optim.AdamW([a, b], Config.Lr, Config.Betas[0], Config.Betas[1], Config.Eps, Config.WeightDecay);
        var bBefore = b.detach().clone();

        for (var step = 0; step < 6; step++)
        {
            var gradA = randn(5, generator: generator);
            var gradB = randn(4, generator: generator);
            var bTrains = step >= 3;
            a.grad = gradA.clone();
            b.grad = bTrains ? gradB.clone() : null;
            reference.step();

            var flatGrad = cat([gradA, bTrains ? gradB : zeros(4), zeros(1)]);
            OptimizerSegment[] segments = bTrains
                ? [new(0, 5, step + 1), new(5, 4, step + 1 - 3)]
                : [new(0, 5, step + 1)];
            shard.Update(flatGrad, Config.Lr, segments: segments);
            if (!bTrains) Assert.True(shard.Master.narrow(0, 5, 4).allclose(bBefore, rtol: 0, atol: 0), "a frozen run changed");
        }

        var expected = cat([a.detach(), b.detach()]);
        var diff = (shard.Master.narrow(0, 0, 9) - expected).abs().max().item<float>();
        Assert.True(diff < 1e-6f, $"max |segmented - torch| = {diff}");
        Assert.Equal(0f, shard.Master[9].item<float>());
        Assert.Equal(6, shard.Step);
    }

    [Fact]
    public void ASegmentOutsideTheShardIsRefused()
    {
        var shard = new ShardedAdamW(zeros(8), Config);
        var error = Assert.Throws<ArgumentException>(() => shard.Update(zeros(8), 1e-2, segments: [new OptimizerSegment(6, 3, 1)]));
        Assert.Contains("8 elements", error.Message);
    }

    [Fact]
    public void ASnapshotRestoresIntoAFreshShardThatThenTakesIdenticalSteps()
    {
        using var generator = new Generator(5);
        var original = new ShardedAdamW(randn(9, generator: generator), Config);
        for (var i = 0; i < 3; i++) original.Update(randn(9, generator: generator), 1e-2);
        var restored = new ShardedAdamW(zeros(9), Config);
        restored.Load(original.Snapshot(start: 18));

        var grad = randn(9, generator: generator);
        original.Update(grad, 1e-2);
        restored.Update(grad, 1e-2);
        Assert.Equal(original.Step, restored.Step);
        Assert.True(original.Master.allclose(restored.Master, rtol: 0, atol: 0));
        Assert.True(original.ExpAvgSq.allclose(restored.ExpAvgSq, rtol: 0, atol: 0));
    }

    [Fact]
    public void BadBetasAreRejectedNamingTheKey()
    {
        var error = Assert.Throws<ArgumentException>(() => new ShardedAdamW(zeros(3), Config with { Betas = [0.9] }));
        Assert.Contains("optimizer.betas", error.Message);
    }
}
