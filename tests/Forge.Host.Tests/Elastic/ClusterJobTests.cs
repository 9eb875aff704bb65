using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Forge.Host.Output;
using Xunit.Abstractions;

namespace Forge.Host.Tests.Elastic;

/// <summary>
/// A cluster job of real `forge` processes on loopback (config/ca-tiny-cpu.toml made small), with
/// processes killed by SIGKILL. Every run uses the same global batch of 6 samples, so a job that
/// recovers must end at the fault-free run's final loss; the tolerance (<see cref="LossTolerance"/>)
/// covers only the summation order of different world sizes.
/// </summary>
public sealed class ClusterJobTests(ClusterJobTests.FaultFreeRun reference, ITestOutputHelper output) : IClassFixture<ClusterJobTests.FaultFreeRun>
{
    private const int Steps = 40;
    private const double LossTolerance = 1e-3;
    private static readonly TimeSpan Generous = TimeSpan.FromMinutes(4);

    /// <summary>The job's overrides: small batches, no held-out tests, a checkpoint every 10 steps.</summary>
    private static string[] Job(string run) =>
    [
        "--set", $"run_name={run}", "--set", $"train.max_steps={Steps}", "--set", "checkpoint.interval=10",
        "--set", "train.log_interval=1", "--set", "train.eval_interval=0", "--set", "train.batch_size=2",
        "--set", "train.global_batch_size=6", "--set", "data.eval_manifest=", "--set", "data.unseen_art_manifest=",
        "--set", "elastic.min_ranks=1",
        // Every step copied, however loaded the machine: what the at-most-one-step bound below is the bound of.
        "--set", "elastic.replica_max_overhead=0",
    ];

    /// <summary>The same job in one process, one rank, nothing killed.</summary>
    public sealed class FaultFreeRun : IDisposable
    {
        public string Root { get; } = Path.Combine(Path.GetTempPath(), $"forge-cluster-{Guid.NewGuid():N}");

        public double FinalLoss { get; }

        public FaultFreeRun()
        {
            using var job = ForgeProcess.Start("fault-free", ["train", "config/ca-tiny-cpu.toml", "--ranks", "1", "--runs", Root, .. Job("fault-free")]);
            var code = job.WaitForExitAsync(Generous).GetAwaiter().GetResult();
            Assert.True(code == 0, job.Output);
            FinalLoss = FinalLossOf(Path.Combine(Root, "fault-free"));
        }

        public void Dispose()
        {
            try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task ANodeWhoseStoreIsNotTheJobsIsRefusedBeforeStepOneAndTheJobGoesOn()
    {
        // The issue's reproduction: the seed keeps its run elsewhere, the node (no --runs) would write its
        // shards into runs/<run>/checkpoints.db under the repository root.
        var run = $"refused-{Guid.NewGuid():N}"[..20];
        var elsewhere = Path.Combine(reference.Root, "elsewhere", "runs");
        var port = FreePort();
        using var seed = Seed(port, elsewhere, run);
        using var node = Node(port, runs: null, run);
        try
        {
            Assert.Equal(1, await node.WaitForExitAsync(Generous));
            Assert.Contains("refused this node's ranks", node.Output);
            Assert.Contains(Path.Combine(elsewhere, run, "checkpoints.db"), node.Output);
            Assert.Contains(Path.Combine(RepositoryPaths.Root, "runs", run, "checkpoints.db"), node.Output);
            Assert.Equal(0, await seed.WaitForExitAsync(Generous));
            // Every step ran on the seed's own rank: nothing was ever given to the refused one.
            Assert.All(MetricsLog.Read(Path.Combine(elsewhere, run, "metrics.jsonl")).Where(p => p.Loss is not null), p => Assert.Equal(1, p.WorldSize));
            Assert.Equal(reference.FinalLoss, FinalLossOf(Path.Combine(elsewhere, run)), LossTolerance);
        }
        finally
        {
            Log(seed, node);
            try { Directory.Delete(Path.Combine(RepositoryPaths.Root, "runs", run), recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task ANodeKilledInTheMiddleOfAStepCostsNoStepAndTheJobEndsAtTheFaultFreeLoss()
    {
        var (runs, run, port) = (reference.Root, $"node-kill-{Guid.NewGuid():N}"[..20], FreePort());
        using var seed = Seed(port, runs, run);
        using var first = Node(port, runs, run);
        using var second = Node(port, runs, run);
        try
        {
            await seed.WaitForLineAsync(StepOfWorld(15, 3), Generous, "step 15 on three ranks");
            second.Kill();

            Assert.Equal(0, await seed.WaitForExitAsync(Generous));
            Assert.Equal(0, await first.WaitForExitAsync(Generous));
            Assert.Equal(reference.FinalLoss, FinalLossOf(Path.Combine(runs, run)), LossTolerance);
            var journal = File.ReadAllText(Path.Combine(runs, run, "events.jsonl"));
            Assert.Contains("lost", journal);
            Assert.Contains("\"job_finished\"", journal);
        }
        finally
        {
            Log(seed, first, second);
        }
    }

    [Fact]
    public async Task KillingTheProcessThatHostsTheSupervisorMovesItToASurvivorThatGoesOnFromMemoryAndFinishesTheJob()
    {
        var (runs, run, port) = (reference.Root, $"sup-kill-{Guid.NewGuid():N}"[..20], FreePort());
        using var seed = Seed(port, runs, run);
        using var first = Node(port, runs, run);
        using var second = Node(port, runs, run);
        try
        {
            await seed.WaitForLineAsync(StepOfWorld(15, 3), Generous, "step 15 on three ranks");
            seed.Kill();

            Assert.Equal(0, await first.WaitForExitAsync(Generous));
            Assert.Equal(0, await second.WaitForExitAsync(Generous));
            // One survivor hosted the new supervisor and reported the end; the run's files went on in the same directory.
            Assert.Single(new[] { first, second }, n => n.Output.Contains("node: finished the job at step 40"));
            Assert.Equal(reference.FinalLoss, FinalLossOf(Path.Combine(runs, run)), LossTolerance);
            // The journal marks the hand-over, in the run's events.jsonl and in the store's copy that `forge status` reads.
            var journal = JournalEntry.ReadAll(Path.Combine(runs, run, "events.jsonl")).Select(e => e.Text("text") ?? "").ToList();
            Assert.Contains(journal, t => Regex.IsMatch(t, $"^supervisor 2 on 127.0.0.1:\\d+ took job '{run}' over from supervisor 1 on 127.0.0.1:{port}"));
            // The new supervisor went on from the survivors' buddy replicas, past the checkpoint it found. Not "at most one
            // step": on the demo's Food & Drink rows (captions of at most 32 bytes) a step is shorter than a copy round
            // on this loaded loopback, the next round is deferred (training never waits for a buddy), and CI saw 2 lost.
            var lastDone = seed.Output.Split('\n').Select(l => Regex.Match(l, @"step (\d+)/\d+ .*world 3")).Where(m => m.Success)
                .Max(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
            var restored = journal.Select(t => Regex.Match(t, @"restored step (\d+) from memory \(the previous supervisor's")).Single(m => m.Success);
            var checkpoint = journal.Select(t => Regex.Match(t, @"took job .* resuming from the checkpoint at step (\d+)")).Single(m => m.Success);
            Assert.InRange(int.Parse(restored.Groups[1].Value, CultureInfo.InvariantCulture),
                int.Parse(checkpoint.Groups[1].Value, CultureInfo.InvariantCulture) + 1, lastDone);
            using var status = ForgeProcess.Start("status", "status", Path.Combine(runs, run));
            Assert.Equal(0, await status.WaitForExitAsync(Generous));
            Assert.Contains("took job", status.Output);
        }
        finally
        {
            Log(seed, first, second);
        }
    }

    [Fact]
    public async Task ANodeKilledWhileACheckpointIsWrittenLeavesOnlyRestorableCheckpointsAndTheJobEndsAtTheFaultFreeLoss()
    {
        var (runs, run, port) = (reference.Root, $"ckpt-kill-{Guid.NewGuid():N}"[..20], FreePort());
        using var seed = Seed(port, runs, run);
        using var first = Node(port, runs, run);
        using var second = Node(port, runs, run);
        try
        {
            // The checkpoint of step 20 is written while step 21 runs: kill as soon as step 20 is done.
            await seed.WaitForLineAsync(StepOfWorld(20, 3), Generous, "step 20 on three ranks");
            second.Kill();

            Assert.Equal(0, await seed.WaitForExitAsync(Generous));
            Assert.Equal(0, await first.WaitForExitAsync(Generous));
            Assert.Equal(reference.FinalLoss, FinalLossOf(Path.Combine(runs, run)), LossTolerance);
            // Whatever the kill interrupted, every checkpoint the store lists is one it can restore.
            using var list = ForgeProcess.Start("list", "checkpoints", "list", Path.Combine(runs, run));
            Assert.Equal(0, await list.WaitForExitAsync(Generous));
            Assert.DoesNotContain("unreadable", list.Output);
        }
        finally
        {
            Log(seed, first, second);
        }
    }

    [Fact]
    public async Task KillingTheSupervisorsProcessWhoseOnlyCopyIsOnAMemoryOnlyNodeGoesOnFromThatNodesMemory()
    {
        // One rank, in the seed's process with the supervisor; its buddy copies go to a memory-only node, the only
        // other process. The seed's SIGKILL takes the rank, its own copy and the supervisor: what is left of the
        // job's state in memory is the holder's copy, and the supervisor that takes over there must use it.
        var (runs, run, port, holderPort) = (reference.Root, $"holder-{Guid.NewGuid():N}"[..20], FreePort(), FreePort());
        using var seed = Seed(port, runs, run);
        using var holder = ForgeProcess.Start("holder", ["node", "--config", "config/ca-tiny-cpu.toml", "--seed", $"127.0.0.1:{port}", "--host", "127.0.0.1",
            "--port", holderPort.ToString(CultureInfo.InvariantCulture), "--memory-only", "--runs", runs, .. Job(run)]);
        ForgeProcess? rank = null;
        try
        {
            await seed.WaitForLineAsync(l => l.Contains("memory-only node registered"), Generous, "the holder's registration");
            var registeredAt = LastStep(seed.Output);
            await seed.WaitForLineAsync(StepOfWorld(Math.Max(15, registeredAt + 5), 1), Generous, "five steps copied to the holder");
            seed.Kill();
            var lastDone = LastStep(seed.Output);

            // A new rank joins through the holder once the supervisor moved there, as a restarted GPU process would.
            await holder.WaitForLineAsync(l => l.Contains("took job"), Generous, "the take-over");
            rank = Node(holderPort, runs, run);
            Assert.Equal(0, await rank.WaitForExitAsync(Generous));
            Assert.Equal(0, await holder.WaitForExitAsync(Generous));
            Assert.Contains("node: finished the job at step 40", holder.Output);
            Assert.Equal(reference.FinalLoss, FinalLossOf(Path.Combine(runs, run)), LossTolerance);
            var journal = JournalEntry.ReadAll(Path.Combine(runs, run, "events.jsonl")).Select(e => e.Text("text") ?? "").ToList();
            var restored = journal.Select(t => Regex.Match(t, @"restored step (\d+) from memory \(the previous supervisor's")).Single(m => m.Success);
            var checkpoint = journal.Select(t => Regex.Match(t, @"took job .* resuming from the checkpoint at step (\d+)")).Single(m => m.Success);
            // Newer than the durable checkpoint the take-over found. Not "at most one step": a copy round that takes
            // longer than a step defers the next one (training never waits for a buddy), and on this loaded
            // loopback the holder's copy was seen 2 steps behind.
            var step = int.Parse(restored.Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.InRange(step, int.Parse(checkpoint.Groups[1].Value, CultureInfo.InvariantCulture) + 1, lastDone);
            output.WriteLine($"killed after step {lastDone}; restored step {step} from the holder's memory");
        }
        finally
        {
            Log([seed, holder, .. rank is null ? Array.Empty<ForgeProcess>() : [rank]]);
            rank?.Dispose();
        }
    }

    /// <summary>The newest step of a progress line "step N/40 ..." in `output`, or 0.</summary>
    private static int LastStep(string output) => output.Split('\n').Select(l => Regex.Match(l, @"step (\d+)/\d+ ")).Where(m => m.Success)
        .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();

    /// <summary>The seed, once it has set its run directory up (as a user starts the nodes after it).</summary>
    private static ForgeProcess Seed(int port, string runs, string run)
    {
        var seed = ForgeProcess.Start("seed", ["train", "config/ca-tiny-cpu.toml", "--cluster-port", port.ToString(CultureInfo.InvariantCulture),
            "--host", "127.0.0.1", "--ranks", "1", "--runs", runs, .. Job(run)]);
        seed.WaitForLineAsync(l => l.Contains("cluster seed:"), Generous, "its cluster line").GetAwaiter().GetResult();
        return seed;
    }

    private static ForgeProcess Node(int seedPort, string? runs, string run) =>
        ForgeProcess.Start("node", ["node", "--config", "config/ca-tiny-cpu.toml", "--seed", $"127.0.0.1:{seedPort}", "--host", "127.0.0.1",
            "--port", FreePort().ToString(CultureInfo.InvariantCulture), .. runs is null ? Array.Empty<string>() : ["--runs", runs], .. Job(run)]);

    /// <summary>A progress line "step N/40 ... world W" with N at least <paramref name="step"/>.</summary>
    private static Func<string, bool> StepOfWorld(int step, int world) => line =>
        Regex.Match(line, @"step (\d+)/\d+ .*world (\d+)") is { Success: true } m
        && int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) >= step && int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) == world;

    private static double FinalLossOf(string runDirectory)
    {
        var steps = MetricsLog.Read(Path.Combine(runDirectory, "metrics.jsonl")).Where(p => p.Loss is not null).ToList();
        Assert.Equal(Steps, steps[^1].Step);
        return steps[^1].Loss!.Value;
    }

    private void Log(params ForgeProcess[] processes)
    {
        foreach (var p in processes) output.WriteLine($"==== {p.Name}\n{p.Output}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
