using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Forge.Host.Commands;
using Forge.Host.Hosting;
using Forge.Host.Output;
using Forge.Model.Tests.Data;
using Xunit.Abstractions;

namespace Forge.Host.Tests.Recovery;

/// <summary>
/// `forge train --cluster-port` (in this process, one rank) with `forge node` processes lending more ranks,
/// on a tiny model; nodes are killed with SIGKILL mid-training. Every byte of the buddy replicas crosses real
/// sockets between real processes.
/// </summary>
public sealed partial class BuddyReplicaRecoveryTests(ITestOutputHelper output)
{
    private const string RunName = "buddies";
    private const int MaxSteps = 120;

    [Fact]
    public async Task ANodeKilledMidTrainingCostsAtMostOneStepAndTheFinalLossEqualsTheFaultFreeRuns()
    {
        using var dir = new TempDirectory();
        using var data = new TemporaryFolder();
        var config = WriteConfig(dir, data);
        var reference = await FaultFreeFinalLoss(dir, config);

        var (run, journal, killedAfter) = await TrainKilling(dir, config, nodes: 1, kill: 1);

        var restored = Assert.Single(AfterTheLoss(journal).Select(m => RestoredFromMemory().Match(m)).Where(m => m.Success));
        var step = long.Parse(restored.Groups[1].Value);
        Assert.InRange(killedAfter - step, 0, 1);   // at most the one step whose copy was on its way
        AssertFinalLoss(run, reference);
    }

    [Fact]
    public async Task KillingAShardsOwnerAndItsBuddyFallsBackToTheDurableCheckpoint()
    {
        using var dir = new TempDirectory();
        using var data = new TemporaryFolder();
        var config = WriteConfig(dir, data);
        var reference = await FaultFreeFinalLoss(dir, config);

        // Ranks 1 and 2 are the two nodes; rank 1's buddy is rank 2: both copies of shard 1 die together.
        var (run, journal, _) = await TrainKilling(dir, config, nodes: 2, kill: 2);

        var afterTheLoss = AfterTheLoss(journal);
        Assert.DoesNotContain(afterTheLoss, m => RestoredFromMemory().IsMatch(m));
        Assert.Contains(afterTheLoss, m => m.Contains("both gone") && m.Contains("falling back to the durable checkpoint"));
        Assert.Contains(afterTheLoss, m => m.Contains("from the durable checkpoint"));
        AssertFinalLoss(run, reference);
    }

    [Fact]
    public async Task AOneRankJobWhoseBuddyIsAMemoryOnlySeedRestoresFromItsMemoryAfterTheRanksProcessIsKilled()
    {
        using var dir = new TempDirectory();
        using var data = new TemporaryFolder();
        var config = WriteConfig(dir, data);
        var reference = await FaultFreeFinalLoss(dir, config);

        // The seed trains nothing: it hosts the supervisor and the copies. The one rank is a node's, as a GPU would be.
        var seedPort = FreePort();
        var console = new StringWriter();
        var first = StartNode(dir, config, seedPort, 0);
        Process? second = null;
        await Task.Delay(TimeSpan.FromSeconds(3));
        var seed = TrainCommand.RunAsync(config, [], 0, dir.File("runs"), new ClusterAddress("127.0.0.1", seedPort), RecordingConsole.Create(console), memoryOnly: true);
        var run = RunDirectory.For(dir.File("runs"), RunName);
        try
        {
            var deadline = Stopwatch.StartNew();
            while (!(File.Exists(run.Metrics) && Metrics(run).Select(m => m.Step).DefaultIfEmpty(0).Max() >= 20))
            {
                if (seed.IsCompleted || deadline.Elapsed > TimeSpan.FromSeconds(240))
                    Assert.Fail($"the job did not reach step 20 (ended: {seed.IsCompleted}): " + (seed.IsCompleted ? console.ToString() : "it still runs"));
                await Task.Delay(5);
            }
            first.Kill();   // SIGKILL: the only rank, and its own copy, are gone
            await first.WaitForExitAsync();
            var killedAfter = Metrics(run).Max(m => m.Step);
            second = StartNode(dir, config, seedPort, 1);   // a GPU process started again

            Assert.True(await seed.WaitAsync(TimeSpan.FromSeconds(180)) == 0, console.ToString());
            var journal = Journal(run);
            foreach (var line in journal) output.WriteLine(line);
            Assert.Contains(journal, m => m.StartsWith("memory-only node registered"));
            var restored = Assert.Single(AfterTheLoss(journal).Select(m => RestoredFromMemory().Match(m)).Where(m => m.Success));
            Assert.InRange(killedAfter - long.Parse(restored.Groups[1].Value), 0, 1);
            AssertFinalLoss(run, reference);
        }
        finally
        {
            foreach (var node in new[] { first, second })
            {
                if (node is null) continue;
                if (!node.HasExited) node.Kill();
                node.Dispose();
            }
        }
    }

    /// <summary>The journal from the first lost world on (a node that registered late joins earlier, at a checkpoint).</summary>
    private static string[] AfterTheLoss(string[] journal) => journal.SkipWhile(m => !LostWorld().IsMatch(m)).ToArray();

    private async Task<double> FaultFreeFinalLoss(TempDirectory dir, string config)
    {
        var console = new StringWriter();
        // The same global batch on the same samples in a world that never loses a rank.
        Assert.True(await TrainCommand.RunAsync(config, [$"checkpoint.connection_string={dir.File("reference.db")}"], 2, dir.File("reference"), null, RecordingConsole.Create(console)) == 0, console.ToString());
        return Metrics(RunDirectory.For(dir.File("reference"), RunName)).Last(m => m.Step == MaxSteps).Loss;
    }

    /// <summary>Runs the job on the seed's rank and `nodes` node processes; SIGKILLs the last `kill` nodes once the full world passed step 20.</summary>
    private async Task<(RunDirectory Run, string[] Journal, long KilledAfter)> TrainKilling(TempDirectory dir, string config, int nodes, int kill)
    {
        var seedPort = FreePort();
        var console = new StringWriter();
        var processes = new List<Process>();
        // The nodes first: they register as soon as the seed's supervisor is up, inside its settle window, so the
        // first world has every rank; after the loss the survivors re-form without waiting (elastic.min_ranks = 1).
        for (var n = 0; n < nodes; n++) processes.Add(StartNode(dir, config, seedPort, n));
        await Task.Delay(TimeSpan.FromSeconds(3));
        var seed = TrainCommand.RunAsync(config, [], 1, dir.File("runs"), new ClusterAddress("127.0.0.1", seedPort), RecordingConsole.Create(console));
        var run = RunDirectory.For(dir.File("runs"), RunName);
        try
        {
            var deadline = Stopwatch.StartNew();
            long killedAfter;
            while (true)
            {
                var full = File.Exists(run.Metrics) ? Metrics(run).Where(m => m.WorldSize == nodes + 1).Select(m => m.Step).DefaultIfEmpty(0).Max() : 0;
                if (full >= 20) { killedAfter = full; break; }
                if (seed.IsCompleted || deadline.Elapsed > TimeSpan.FromSeconds(240))
                    Assert.Fail($"the {nodes + 1}-rank world did not reach step 20 (job ended: {seed.IsCompleted}, exit code {(seed.IsCompletedSuccessfully ? seed.Result : -1)}): " +
                                (seed.IsCompleted ? console.ToString() : "the job still runs"));   // its console is read only once it stopped writing
                await Task.Delay(5);
            }
            foreach (var node in processes.TakeLast(kill)) node.Kill();   // SIGKILL
            // Steps the full world completed after the poll above but before the kill landed count as done too.
            var code = await seed.WaitAsync(TimeSpan.FromSeconds(120));
            killedAfter = Metrics(run).Where(m => m.WorldSize == nodes + 1).Max(m => m.Step);
            var journal = Journal(run);
            foreach (var line in journal) output.WriteLine(line);
            Assert.True(code == 0, console.ToString());
            return (run, journal, killedAfter);
        }
        finally
        {
            foreach (var node in processes)
            {
                if (!node.HasExited) node.Kill();
                node.Dispose();
            }
        }
    }

    private static void AssertFinalLoss(RunDirectory run, double reference)
    {
        var final = Metrics(run).Last(m => m.Step == MaxSteps);
        Assert.Equal(1, final.WorldSize);
        // Only the summation order of the gradients differs between world sizes (fp32).
        Assert.True(Math.Abs(final.Loss - reference) <= 1e-4 * Math.Abs(reference), $"final loss {final.Loss} vs fault-free {reference}");
    }

    private Process StartNode(TempDirectory dir, string config, int seedPort, int index)
    {
        var forge = Path.Combine(AppContext.BaseDirectory, "forge.dll");
        var log = dir.File($"node-{index}.log");
        // exec: the PID is dotnet's own, so Kill() is a SIGKILL of the node itself.
        var start = new ProcessStartInfo("bash") { UseShellExecute = false, WorkingDirectory = dir.Path };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"exec dotnet '{forge}' node --config '{config}' --seed 127.0.0.1:{seedPort} --host 127.0.0.1 --port {FreePort()} --ranks 1 " +
                               $"> '{log}' 2>&1");
        return Process.Start(start) ?? throw new InvalidOperationException("could not start forge node");
    }

    private static string WriteConfig(TempDirectory dir, TemporaryFolder data)
    {
        var train = TestDataSets.WriteNumbered(data, "train.jsonl", 16, imageSize: 8);
        var path = dir.File("tiny.toml");
        File.WriteAllText(path, $"""
            run_name = "{RunName}"
            [model]
            dim = 32
            n_layers = 2
            n_heads = 2
            vocab_size = 264
            max_seq_len = 16
            [vlm]
            max_text_len = 12
            cross_attention_every_n_layers = 2
            freeze = []
            [vision_encoder]
            type = "vit"
            feature_dim = 16
            image_size = 8
            patch_size = 4
            num_tokens = 4
            n_layers = 1
            n_heads = 2
            [data]
            manifest = "{train}"
            eval_manifest = ""
            unseen_art_manifest = ""
            image_size = 8
            num_workers = 1
            [train]
            batch_size = 2
            global_batch_size = 6
            max_steps = {MaxSteps}
            mixed_precision = "fp32"
            eval_interval = 0
            log_interval = 1
            [checkpoint]
            interval = 10
            # One file for the seed and its nodes, outside the run directory that `forge train` moves aside.
            connection_string = "{dir.File("checkpoints.db")}"
            [elastic]
            replica_interval = 1
            # Every step copied, however loaded the machine: the at-most-one-step bound is that policy's.
            replica_max_overhead = 0
            """);
        return path;
    }

    private sealed record Logged(long Step, double Loss, int WorldSize);

    private static List<Logged> Metrics(RunDirectory run)
    {
        var logged = new List<Logged>();
        using var reader = new StreamReader(new FileStream(run.Metrics, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        while (reader.ReadLine() is { } line)
        {
            JsonElement row;
            try { row = JsonDocument.Parse(line).RootElement; }
            catch (JsonException) { break; }   // a line still being written
            if (row.TryGetProperty("loss", out var loss) && row.TryGetProperty("world_size", out var world))
                logged.Add(new Logged(row.GetProperty("step").GetInt64(), loss.GetDouble(), world.GetInt32()));
        }
        return logged;
    }

    private static string[] Journal(RunDirectory run) =>
        File.ReadAllLines(run.Events).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("event").GetString() == "message").Select(e => e.GetProperty("text").GetString()!).ToArray();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"world \d+ lost")]
    private static partial Regex LostWorld();

    [GeneratedRegex(@"restored step (\d+) from memory")]
    private static partial Regex RestoredFromMemory();
}
