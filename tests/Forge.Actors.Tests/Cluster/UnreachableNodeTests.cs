using Akka.Actor;
using Akka.Configuration;
using Akka.Remote;
using Akka.Remote.Transport;
using Forge.Actors.Cluster;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Supervision;
using Forge.Actors.Tests.Ranks.Fakes;
using Forge.Actors.Training;
using Xunit.Abstractions;
using AkkaCluster = Akka.Cluster.Cluster;

namespace Forge.Actors.Tests.Cluster;

/// <summary>
/// A node that stays alive but cannot be reached (a cut network link, a hung process): no actor
/// stops, so DeathWatch says nothing for a long time; the cluster's failure detector must be
/// what moves the job to recovery.
/// </summary>
public sealed class UnreachableNodeTests(ITestOutputHelper output)
{
    // Fast failure detection for the test; the throttler adapter lets the test cut the link.
    // Downing stays off: the test is about reacting to unreachability before any node is downed.
    private static readonly Config TestOverrides = ConfigurationFactory.ParseString("""
        akka.remote.dot-netty.tcp.applied-adapters = [trttl]
        akka.cluster.failure-detector.heartbeat-interval = 200ms
        akka.cluster.failure-detector.acceptable-heartbeat-pause = 500ms
        akka.cluster.failure-detector.expected-response-after = 500ms
        akka.cluster.unreachable-nodes-reaper-interval = 250ms
        akka.cluster.split-brain-resolver.stable-after = 5m
        akka.cluster.run-coordinated-shutdown-when-down = off
        akka.coordinated-shutdown.run-by-actor-system-terminate = off
        """);

    [Fact]
    public async Task AnUnreachableNodeMovesTheJobToRecoveryWithoutItsRank()
    {
        var engines = new FakeEngineFactory(numel: 10) { StepDuration = TimeSpan.FromMilliseconds(20) };
        var store = new FakeCheckpointStore();
        var observer = new RecordingObserver();
        var twoRanks = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var oneRankAgain = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        observer.AfterStep = report =>
        {
            if (report.WorldSize == 2 && report.Step >= 2) twoRanks.TrySetResult();
            if (report.WorldSize == 1 && twoRanks.Task.IsCompleted) oneRankAgain.TrySetResult();
        };

        var seed = ActorSystem.Create(ForgeAkkaConfig.SystemName, TestOverrides.WithFallback(ForgeAkkaConfig.Node("127.0.0.1", 0, [])));
        var other = ActorSystem.Create(ForgeAkkaConfig.SystemName, TestOverrides.WithFallback(ForgeAkkaConfig.Node("127.0.0.1", 0, [])));
        try
        {
            var seedAddress = AkkaCluster.Get(seed).SelfAddress;
            AkkaCluster.Get(seed).Join(seedAddress);
            AkkaCluster.Get(other).Join(seedAddress);

            var settings = new JobSupervisorSettings
            {
                JobId = "unreachable", MaxSteps = 100_000, MinRanks = 1, MaxRanks = 2, ExpectedRanks = 2,
                FormTimeout = TimeSpan.FromSeconds(20), StepTimeout = TimeSpan.FromSeconds(60), AbortTimeout = TimeSpan.FromSeconds(10),
            };
            var supervisor = seed.ActorOf(JobSupervisor.Props(settings, store, observer), JobSupervisor.Name);
            RankServices Services(string node) => new() { Engines = engines, Backend = new FakeCollectiveBackend(), Store = store, Node = node };
            seed.ActorOf(RankActor.Props(Services("seed"), $"/user/{JobSupervisor.Name}"), "rank-0");
            other.ActorOf(RankActor.Props(Services("other"), $"{seedAddress}/user/{JobSupervisor.Name}"), "rank-0");

            await twoRanks.Task.WaitAsync(TimeSpan.FromSeconds(30));
            output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} two ranks");
            var cut = new SetThrottle(AkkaCluster.Get(other).SelfAddress, ThrottleTransportAdapter.Direction.Both, Blackhole.Instance);
            var transport = ((IRemoteActorRefProvider)((ExtendedActorSystem)seed).Provider).Transport;
            Assert.True(await transport.ManagementCommand(cut));

            await oneRankAgain.Task.WaitAsync(TimeSpan.FromSeconds(30));
            output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} one rank");
            supervisor.Tell(new StopJob("test over"));
            var finished = await supervisor.Ask<JobFinished>(AwaitJobFinished.Instance, TimeSpan.FromSeconds(20));

            output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} finished");
            foreach (var message in observer.Messages) output.WriteLine(message);
            Assert.Contains(observer.Messages, m => m.Contains("unreachable") && m.Contains("recovering"));
            Assert.False(finished.Completed);
            Assert.Null(finished.Error);
        }
        finally
        {
            await Task.WhenAll(other.Terminate(), seed.Terminate()).WaitAsync(TimeSpan.FromSeconds(30));
            output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} terminated");
        }
    }
}
