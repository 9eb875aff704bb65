using Forge.Model.Config;
using Forge.Model.Optim;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Optim;

public class ShardSnapshotBuffersTests
{
    private static readonly OptimizerConfig Config = new() { Lr = 1e-2, WeightDecay = 0.1, Betas = [0.9, 0.95], Eps = 1e-8 };

    private static ShardedAdamW Trained(int length, int steps, Generator generator)
    {
        var optimizer = new ShardedAdamW(randn(length, generator: generator), Config);
        for (var i = 0; i < steps; i++) optimizer.Update(randn(length, generator: generator), 1e-2);
        return optimizer;
    }

    [Fact]
    public void ACaptureHoldsExactlyWhatAFreshSnapshotHolds()
    {
        using var generator = new Generator(3);
        using var optimizer = Trained(37, steps: 4, generator);
        using var buffers = new ShardSnapshotBuffers(37, CPU);

        using var captured = buffers.Capture(optimizer, start: 74);
        var fresh = optimizer.Snapshot(start: 74);

        Assert.Equal((fresh.Start, fresh.Length, fresh.Step), (captured.Shard.Start, captured.Shard.Length, captured.Shard.Step));
        Assert.Equal(fresh.Master, captured.Shard.Master);
        Assert.Equal(fresh.ExpAvg, captured.Shard.ExpAvg);
        Assert.Equal(fresh.ExpAvgSq, captured.Shard.ExpAvgSq);
    }

    [Fact]
    public void TheNextCaptureReusesTheArraysAndSeesTheLaterState()
    {
        using var generator = new Generator(4);
        using var optimizer = Trained(16, steps: 1, generator);
        using var buffers = new ShardSnapshotBuffers(16, CPU);

        float[] firstArray;
        float firstValue;
        using (var first = buffers.Capture(optimizer, start: 0))
        {
            firstArray = first.Shard.Master;
            firstValue = first.Shard.Master[0];
        }
        optimizer.Update(randn(16, generator: generator), 1e-1);
        using var second = buffers.Capture(optimizer, start: 0);

        Assert.Same(firstArray, second.Shard.Master);
        Assert.Equal(2, second.Shard.Step);
        Assert.NotEqual(firstValue, second.Shard.Master[0]);
        Assert.Equal(optimizer.Snapshot(0).Master, second.Shard.Master);
    }

    [Fact]
    public async Task ACaptureWaitsUntilThePreviousSnapshotIsReleased()
    {
        using var generator = new Generator(5);
        using var optimizer = Trained(8, steps: 1, generator);
        using var buffers = new ShardSnapshotBuffers(8, CPU);
        var held = buffers.Capture(optimizer, start: 0);
        var before = held.Shard.Master.ToArray();
        optimizer.Update(randn(8, generator: generator), 1e-1);

        var next = Task.Run(() => buffers.Capture(optimizer, start: 0));
        var finishedEarly = await Task.WhenAny(next, Task.Delay(300)) == next;
        // While held, the borrowed arrays must not change under the writer.
        Assert.False(finishedEarly, "a second capture overwrote buffers still leased to a writer");
        Assert.Equal(before, held.Shard.Master);

        held.Dispose();
        using var second = await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(optimizer.Snapshot(0).Master, second.Shard.Master);
    }

    [Fact]
    public async Task TwoSlotsLeaseTwoDistinctCopiesAndAThirdCaptureWaitsForARelease()
    {
        using var generator = new Generator(6);
        using var optimizer = Trained(8, steps: 1, generator);
        using var buffers = new ShardSnapshotBuffers(8, CPU, slots: 2);
        var first = buffers.Capture(optimizer, start: 0);
        var firstValues = first.Shard.Master.ToArray();
        optimizer.Update(randn(8, generator: generator), 1e-1);
        using var second = buffers.Capture(optimizer, start: 0);

        Assert.NotSame(first.Shard.Master, second.Shard.Master);
        Assert.Equal((1L, 2L), (first.Shard.Step, second.Shard.Step));
        var third = Task.Run(() => buffers.Capture(optimizer, start: 0));
        Assert.False(await Task.WhenAny(third, Task.Delay(300)) == third, "a third capture overwrote one of two leased copies");
        Assert.Equal(firstValues, first.Shard.Master);

        first.Dispose();
        using var reused = await third.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Same(first.Shard.Master, reused.Shard.Master);   // the released slot, not a new allocation
    }

    [Fact]
    public void AMismatchedOptimizerIsRefusedWithBothLengths()
    {
        using var generator = new Generator(6);
        using var optimizer = Trained(10, steps: 0, generator);
        using var buffers = new ShardSnapshotBuffers(12, CPU);
        var error = Assert.Throws<ArgumentException>(() => buffers.Capture(optimizer, start: 0));
        Assert.Contains("10", error.Message);
        Assert.Contains("12", error.Message);
        // A refused capture does not keep the lease.
        using var right = new ShardedAdamW(zeros(12), Config);
        using var ok = buffers.Capture(right, start: 0);
        Assert.Equal(12, ok.Shard.Length);
    }
}
