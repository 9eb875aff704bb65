using Forge.Host.Benchmarks;
using Forge.Host.Commands;

namespace Forge.Host.Tests.Benchmarks;

public sealed class SupervisorBenchmarkTests
{
    [Theory]
    [InlineData(SimulatedRankThreads.Pooled)]
    [InlineData(SimulatedRankThreads.Dedicated)]
    public async Task TheBenchmarkPrintsEveryFigureForEachWorldSizeAndCountsOneStepAndOneAnswerForTheProcessOfRanks(SimulatedRankThreads threads)
    {
        var output = new StringWriter();
        var options = new SupervisorBenchmarkOptions { Ranks = [8], Steps = 4, WarmupSteps = 3, StepTime = TimeSpan.FromMilliseconds(5), RankThreads = threads };

        var results = await SupervisorBenchmark.RunAsync(options, output);

        var r = Assert.Single(results);
        Assert.Equal(8, r.Ranks);
        // Eight ranks, one process: its rank host relays each step to all eight and answers once for them.
        Assert.Equal(1, r.MessagesInPerStep);
        Assert.Equal(1, r.MessagesOutPerStep);
        Assert.True(r.BarrierMedianMs >= 0 && r.BarrierP99Ms >= r.BarrierMedianMs, $"barrier median {r.BarrierMedianMs} ms, p99 {r.BarrierP99Ms} ms");
        Assert.True(r.FanInMedianMs >= 0 && r.RoundTripMedianMs > 0);
        // The kill is followed by an abort, a new world and one whole step of it: at least that step's time.
        Assert.True(r.ReformSeconds >= 0.005, $"re-formation {r.ReformSeconds} s");
        Assert.True(r.FormSeconds > 0 && r.WorkingSetMiB > 0);
        var text = output.ToString();
        foreach (var label in new[] { "barrier median ms", "barrier p99 ms", "fan-in median ms", "msgs in/step", "msgs out/step", "heap MiB", "working set MiB", "re-form s" })
            Assert.Contains(label, text);
        Assert.Contains(text.Split('\n'), line => line.TrimStart().StartsWith("8 ", StringComparison.Ordinal));
        Assert.Contains($"{threads.ToString().ToLowerInvariant()} rank threads", text);
        Assert.Null(r.ProcessReformSeconds);
    }

    [Fact]
    public async Task APooledRankThreadRunsItsWorkInOrderAndDeliversAStepOnlyAfterItsTimeWasSpent()
    {
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var thread = new PooledRankThread("rank-test", () => seen.Enqueue("prepare"));

        var step = thread.Run(() =>
        {
            seen.Enqueue("step");
            PooledRankThread.Spend(TimeSpan.FromMilliseconds(20), () => seen.Enqueue("spent"));
            return 7;
        });
        var next = thread.Run(() => seen.Enqueue("next"));

        Assert.Equal(7, await step);
        await next;
        Assert.Equal(["prepare", "step", "spent", "next"], seen);
        Assert.True(thread.Stop(TimeSpan.FromSeconds(1)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => thread.Run(() => { }));
    }

    [Fact]
    public async Task TheStepClockRunsEachEndInDueOrderAndNoneBeforeItsTime()
    {
        var ended = new System.Collections.Concurrent.ConcurrentQueue<(int Ms, TimeSpan At)>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // Queued out of due order: a later end queued first must not hold back, nor be overtaken by, an earlier one.
        foreach (var ms in new[] { 60, 20, 40, 20 })
            SimulatedStepClock.Shared.After(TimeSpan.FromMilliseconds(ms), () =>
            {
                ended.Enqueue((ms, clock.Elapsed));
                if (ended.Count == 4) all.TrySetResult();
            });

        await all.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([20, 20, 40, 60], ended.Select(e => e.Ms));
        Assert.All(ended, e => Assert.True(e.At >= TimeSpan.FromMilliseconds(e.Ms), $"the {e.Ms} ms end ran at {e.At.TotalMilliseconds} ms"));
    }

    [Fact]
    public async Task AWorldSizeThatIsNotANumberIsRejectedNamingTheOptionAndTheValue()
    {
        var output = new StringWriter();

        var exit = await BenchSupervisorCommand.RunAsync("8,many", steps: 3, stepMs: 1, output, CancellationToken.None);

        Assert.Equal(2, exit);
        Assert.Contains("--ranks \"8,many\": \"many\" is not a whole number", output.ToString());
    }
}
