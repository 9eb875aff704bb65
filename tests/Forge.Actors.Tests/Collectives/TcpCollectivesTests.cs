using System.Diagnostics;
using Forge.Actors.Collectives.Tcp;
using Forge.Actors.CollectivePeer;
using Forge.Model.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Actors.Tests.Collectives;

public class TcpCollectivesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void EveryCollectiveGivesThePredictedResultForUnevenSizes(int worldSize)
    {
        var failures = LoopbackGroup.Run(worldSize, CollectiveScenario.Exchange);
        Assert.All(failures, Assert.Empty);
    }

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Int64)]
    [InlineData(ScalarType.BFloat16)]
    public void AllReduceSumsInTheTensorDtype(ScalarType dtype)
    {
        const int worldSize = 3;
        var results = LoopbackGroup.Run(worldSize, group =>
        {
            using var t = (arange(10, dtype: ScalarType.Int64) + group.Rank).to(dtype);
            group.AllReduceSum(t);
            return t.to(ScalarType.Float64).data<double>().ToArray();
        });
        // Small integers are exact in every dtype above, so the sums must be too.
        var expected = Enumerable.Range(0, 10).Select(i => (double)(3 * i + 0 + 1 + 2)).ToArray();
        Assert.All(results, r => Assert.Equal(expected, r));
    }

    [Fact]
    public void BroadcastLargerThanOneSegmentArrivesIntact()
    {
        var elements = TcpWire.Segment / 4 * 2 + 3;
        var sums = LoopbackGroup.Run(3, group =>
        {
            using var t = group.Rank == 1 ? arange(elements, dtype: ScalarType.Float32) : zeros(elements);
            group.Broadcast(t, root: 1);
            return t.to(ScalarType.Float64).sum().item<double>();
        });
        var expected = (double)elements * (elements - 1) / 2;
        Assert.All(sums, s => Assert.Equal(expected, s));
    }

    [Fact]
    public void ReduceScatterLeavesItsInputUnchanged()
    {
        var unchanged = LoopbackGroup.Run(3, group =>
        {
            using var input = arange(12, dtype: ScalarType.Float32);
            using var copy = input.clone();
            using var output = zeros(4);
            group.ReduceScatter(input, output);
            return input.allclose(copy, rtol: 0, atol: 0);
        });
        Assert.All(unchanged, Assert.True);
    }

    [Fact]
    public void APeerThatClosesItsLinksFailsTheSurvivorAtOnce()
    {
        var outcomes = LoopbackGroup.Run(2, group =>
        {
            if (group.Rank == 1)
            {
                group.Abort("simulated crash");
                return (Exception?)null;
            }
            var clock = Stopwatch.StartNew();
            var error = Record.Exception(() =>
            {
                using var t = ones(4);
                group.AllReduceSum(t);
            });
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the survivor took {clock.Elapsed} to notice");
            return error;
        }, TimeSpan.FromSeconds(20));
        Assert.IsType<CollectiveException>(outcomes[0]);
    }

    [Fact]
    public void AFailureRunsRoundTheRingToEverySurvivorWellBeforeTheTimeout()
    {
        var timeout = TimeSpan.FromSeconds(20);
        var outcomes = LoopbackGroup.Run(4, group =>
        {
            if (group.Rank == 2)
            {
                group.Abort("simulated crash");
                return TimeSpan.Zero;
            }
            var clock = Stopwatch.StartNew();
            Assert.Throws<CollectiveException>(() =>
            {
                using var t = ones(1 << 20);
                group.AllReduceSum(t);
            });
            return clock.Elapsed;
        }, timeout);
        Assert.All(outcomes, elapsed => Assert.True(elapsed < TimeSpan.FromSeconds(5), $"a survivor took {elapsed}"));
    }

    [Fact]
    public void ASilentPeerFailsTheSurvivorWithinTheTimeout()
    {
        var timeout = TimeSpan.FromSeconds(1.5);
        var release = new ManualResetEventSlim();
        var outcomes = LoopbackGroup.Run(2, group =>
        {
            if (group.Rank == 1)
            {
                release.Wait(TimeSpan.FromSeconds(20));
                return (Exception?)null;
            }
            var clock = Stopwatch.StartNew();
            var error = Record.Exception(() =>
            {
                using var t = ones(4);
                group.AllReduceSum(t);
            });
            var elapsed = clock.Elapsed;
            release.Set();
            Assert.InRange(elapsed, timeout * 0.9, timeout + TimeSpan.FromSeconds(3));
            return error;
        }, timeout);
        Assert.IsType<CollectiveException>(outcomes[0]);
    }

    [Fact]
    public void AFailedGroupRefusesLaterCalls()
    {
        var outcomes = LoopbackGroup.Run(2, group =>
        {
            group.Abort("test");
            using var t = ones(2);
            return Record.Exception(() => group.AllReduceSum(t));
        });
        Assert.All(outcomes, e => Assert.IsType<CollectiveException>(e));
    }

    [Fact]
    public void JoiningWithoutTheOtherRanksTimesOutWithACollectiveException()
    {
        var backend = TcpCollectiveBackend.Loopback();
        var id = backend.CreateGroupId();
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<CollectiveException>(() => backend.Join(id, 0, 2, TimeSpan.FromSeconds(1)));
        Assert.Contains("could not join", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void AGroupIdThatIsNotATcpAddressIsRejectedWithTheExpectedFormat()
    {
        var error = Assert.Throws<CollectiveException>(() => TcpCollectiveBackend.Loopback().Join("nccl-bytes"u8.ToArray(), 1, 2, TimeSpan.FromSeconds(1)));
        Assert.Contains("forge-tcp/2", error.Message);
    }
}
