using System.Net;
using System.Net.Sockets;
using Forge.Actors.Cluster;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Supervision;
using Forge.Actors.Tests.Ranks.Fakes;
using Xunit.Abstractions;

namespace Forge.Actors.Tests.Cluster;

/// <summary>
/// Three job processes as three actor systems on loopback, every message over real remoting: the
/// supervisor is a cluster singleton in the seed; when the seed's system dies without leaving, the
/// oldest survivor takes the job over from the store and finishes it.
/// </summary>
public sealed class SupervisorHandOverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task WhenTheSupervisorsProcessDiesTheOldestSurvivorTakesTheJobOverFromTheStoreAndFinishesIt()
    {
        var engines = new FakeEngineFactory(numel: 10) { StepDuration = TimeSpan.FromMilliseconds(30) };
        var store = new FakeCheckpointStore();
        var settings = new JobSupervisorSettings
        {
            JobId = "hand-over", MaxSteps = 60, CheckpointInterval = 5, MinRanks = 1, MaxRanks = 3,
            FormTimeout = TimeSpan.FromSeconds(20), StepTimeout = TimeSpan.FromSeconds(20), AbortTimeout = TimeSpan.FromSeconds(5),
            FormationSettle = TimeSpan.FromMilliseconds(500),
        };
        var seedObserver = new RecordingObserver();
        var threeRanks = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        seedObserver.AfterStep = r => { if (r.WorldSize == 3 && r.Step >= 12) threeRanks.TrySetResult(); };
        RankServices Rank(string node) => new() { Engines = engines, Backend = new FakeCollectiveBackend(), Store = store, Device = -1, Node = node, JobId = "hand-over" };
        // A take-over reads the job record's config; this test's "config" is the settings themselves.
        SupervisorStarts Starts(SupervisorStart.Launch? launch) => new("hand-over", launch, _ => settings);

        var seedPort = FreePort();
        var seed = JobNode.Start("127.0.0.1", seedPort, [], [Rank("seed")], Starts(new SupervisorStart.Launch(settings)), store, seedObserver, 
            // Terminating the system is then a crash: no leave, no hand-over, as under kill -9.
            Akka.Configuration.ConfigurationFactory.ParseString("akka.coordinated-shutdown.run-by-actor-system-terminate = off"));
        var observers = new[] { new RecordingObserver(), new RecordingObserver() };
        var nodes = new List<JobNode>();
        try
        {
            for (var i = 0; i < 2; i++)
                nodes.Add(JobNode.Start("127.0.0.1", FreePort(), [$"127.0.0.1:{seedPort}"], [Rank($"node-{i}")], Starts(null), store, observers[i]));
            var runs = nodes.Select(n => n.RunAsync(stopJobOnCancel: false, CancellationToken.None)).ToArray();

            await threeRanks.Task.WaitAsync(TimeSpan.FromSeconds(60));
            var committedBefore = store.Committed.Max(m => m.Step);
            await seed.System.Terminate();          // the supervisor's process dies: no leave, no hand-over message
            engines.StepDuration = TimeSpan.FromMilliseconds(5);

            var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(90));

            // Exactly one survivor hosted the new supervisor, and it finished the whole job.
            var host = Assert.Single(results, r => r.Finished is not null);
            Assert.True(host.Finished!.Completed, host.Finished.Error);
            Assert.Equal(60, host.Finished.FinalStep);
            var hostObserver = observers[Array.IndexOf(results, host)];
            Assert.Contains(hostObserver.Messages, m => m.Contains("took job 'hand-over' over from supervisor 1") && m.Contains("resuming from the checkpoint at step"));
            // It resumed from the newest checkpoint the first supervisor had committed, and went on with the two survivors.
            var resumed = long.Parse(System.Text.RegularExpressions.Regex.Match(
                hostObserver.Messages.First(m => m.Contains("took job")), @"checkpoint at step (\d+)").Groups[1].Value);
            Assert.True(resumed >= committedBefore, $"resumed from step {resumed}; step {committedBefore} was committed before the kill");
            Assert.Equal((60L, 2), (store.Committed[^1].Step, store.Committed[^1].WorldSize));
            Assert.Equal(2, (await store.ReadJobRecordAsync("hand-over"))!.Incarnation);
        }
        finally
        {
            foreach (var m in seedObserver.Messages) output.WriteLine($"seed: {m}");
            for (var i = 0; i < observers.Length; i++)
                foreach (var m in observers[i].Messages) output.WriteLine($"node {i}: {m}");
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
