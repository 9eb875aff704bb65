using Forge.Actors.Collectives;
using Forge.Actors.Collectives.Nccl;
using Forge.Actors.Protocol;
using Forge.Model.Config;
using Forge.Model.Distributed;
using Forge.Model.Tests.Training;
using Forge.Model.Tests.Training.Fixtures;
using Forge.Model.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Forge.Actors.Tests.Collectives;

[Trait("Category", "Gpu")]
public class NcclCollectivesTests(ITestOutputHelper output)
{
    [GpuFact]
    public void AOneRankNCCLGroupRunsEveryCollectiveOnDeviceTensors()
    {
        var backend = new NcclCollectiveBackend(0);
        using var group = backend.Join(backend.CreateGroupId(), 0, 1, TimeSpan.FromSeconds(60));
        var cuda = new Device(DeviceType.CUDA, 0);

        using var t = arange(7, dtype: ScalarType.Float32, device: cuda);
        group.AllReduceSum(t);
        Assert.Equal(21f, t.sum().item<float>());

        using var input = arange(6, dtype: ScalarType.BFloat16, device: cuda);
        using var output6 = zeros(6, dtype: ScalarType.BFloat16, device: cuda);
        group.ReduceScatter(input, output6);
        Assert.True(output6.to(ScalarType.Float32).cpu().allclose(arange(6, dtype: ScalarType.Float32), rtol: 0, atol: 0));
        group.AllGather(input, output6);
        group.Broadcast(output6, 0);
        Assert.True(output6.to(ScalarType.Float32).cpu().allclose(arange(6, dtype: ScalarType.Float32), rtol: 0, atol: 0));
    }

    [GpuFact]
    public void AnAbortedNCCLGroupFailsLaterCallsWithACollectiveException()
    {
        var backend = new NcclCollectiveBackend(0);
        var group = backend.Join(backend.CreateGroupId(), 0, 1, TimeSpan.FromSeconds(60));
        group.Abort("test");
        using var t = ones(3, device: new Device(DeviceType.CUDA, 0));
        Assert.Throws<CollectiveException>(() => group.AllReduceSum(t));
        group.Dispose();
    }

    [GpuFact]
    public void AOneRankNCCLEngineInFp32MatchesTheCPUReference()
    {
        var config = EngineReference.Config(globalBatch: 12, microBatch: 4);
        using var expected = EngineReference.Train(config, modelSeed: 3, steps: 10);
        var cuda = new Device(DeviceType.CUDA, 0);
        var backend = CollectiveBackends.For(new DistributedConfig(), cuda, "127.0.0.1");
        Assert.Equal("nccl", backend.Name);
        using var group = backend.Join(backend.CreateGroupId(), 0, 1, TimeSpan.FromSeconds(60));
        using var data = new SyntheticCaptions(12);
        using var engine = new ShardedRankEngine(() => new TinyCaptionModel(3), data, group, config, cuda);
        for (var s = 0; s < 10; s++) engine.RunStep(s);
        var diff = (engine.MasterShard.narrow(0, 0, engine.Layout.Numel).cpu() - expected).abs().max().item<float>();
        output.WriteLine($"max |GPU engine - CPU torch| = {diff:E2}");
        // Different kernels (cuBLAS vs CPU BLAS) round differently; Adam amplifies small-gradient noise.
        Assert.True(diff < 1e-4f, $"max |GPU engine - CPU torch| = {diff}");
    }

    [GpuFact]
    public void ABf16EngineKeepsFp32MastersAndABf16ReplicaEqualToTheirRounding()
    {
        var config = EngineReference.Config(globalBatch: 12, microBatch: 4) with { Train = EngineReference.Config(12, 4).Train with { MixedPrecision = "bf16" } };
        var cuda = new Device(DeviceType.CUDA, 0);
        using var data = new SyntheticCaptions(12);
        using var engine = new ShardedRankEngine(() => new TinyCaptionModel(3), data, new SingleRankCollectives(), config, cuda);
        Assert.Equal(ScalarType.BFloat16, engine.ComputeDtype);
        var results = Enumerable.Range(0, 5).Select(s => engine.RunStep(s)).ToArray();
        Assert.All(results, r => Assert.True(double.IsFinite(r.WorldLoss) && double.IsFinite(r.WorldGradNorm)));
        Assert.Equal(ScalarType.Float32, engine.MasterShard.dtype);
        var replica = cat(engine.Model.Module.parameters().Where(p => p.requires_grad).Select(p => p.detach().reshape(-1)).ToArray());
        Assert.Equal(ScalarType.BFloat16, replica.dtype);
        Assert.True(replica.allclose(engine.MasterShard.narrow(0, 0, engine.Layout.Numel).to(ScalarType.BFloat16), rtol: 0, atol: 0));
    }

    [GpuFact(devices: 2)]
    public void TwoNCCLRanksOnTwoGPUsMatchOneRank()
    {
        var config = EngineReference.Config(globalBatch: 12, microBatch: 2);
        using var expected = EngineReference.Train(config, modelSeed: 3, steps: 10);
        var groupId = new NcclCollectiveBackend(0).CreateGroupId();
        var ranks = Enumerable.Range(0, 2).Select(rank => Task.Factory.StartNew(() =>
        {
            var device = new Device(DeviceType.CUDA, rank);
            using var group = new NcclCollectiveBackend(rank).Join(groupId, rank, 2, TimeSpan.FromSeconds(120));
            using var data = new SyntheticCaptions(12);
            using var engine = new ShardedRankEngine(() => new TinyCaptionModel(3), data, group, config, device);
            for (var s = 0; s < 10; s++) engine.RunStep(s);
            return engine.SnapshotShard();
        }, TaskCreationOptions.LongRunning)).ToArray();
        Task.WaitAll(ranks, TimeSpan.FromMinutes(5));
        var gathered = tensor(ranks.SelectMany(t => t.Result.Master).Take((int)TinyCaptionModel.TrainableElements).ToArray());
        var diff = (gathered - expected).abs().max().item<float>();
        output.WriteLine($"2 GPUs: max |2 ranks - CPU reference| = {diff:E2}");
        Assert.True(diff < 1e-4f);
    }
}
