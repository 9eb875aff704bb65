using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Forge.Actors.Checkpointing;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Replication;
using Forge.Actors.Security;
using Forge.Actors.Supervision;
using Forge.Model.Config;
using AkkaCluster = Akka.Cluster.Cluster;

namespace Forge.Actors.Cluster;

/// <summary>
/// One process of a cluster job, the seed (`forge train --cluster-port`) and every `forge node` alike:
/// <list type="bullet">
/// <item>the job supervisor as a cluster singleton: it runs in the oldest process, and when that
/// process dies the oldest survivor starts a new one, which takes the job over from its store;</item>
/// <item><see cref="SupervisorLocator"/>, through which this process's ranks find the supervisor, wherever it runs;</item>
/// <item>the rank host with one rank per local device, or, in a memory-only process, the <see cref="ReplicaHolder"/>
/// that lends its replica channel as a buddy for other processes' shards;</item>
/// <item><see cref="DeadNodeDowning"/>, which lets the singleton move within seconds.</item>
/// </list>
/// </summary>
public sealed class JobNode : IAsyncDisposable
{
    private readonly Func<IReadOnlyList<string>> _supervisorPaths;
    private readonly SupervisorStarts _starts;
    private readonly Task<LeaveJob> _released;
    private readonly FinishedHere _finished;

    private JobNode(ActorSystem system, Func<IReadOnlyList<string>> supervisorPaths, SupervisorStarts starts, Task<LeaveJob> released, FinishedHere finished)
    {
        System = system;
        _supervisorPaths = supervisorPaths;
        _starts = starts;
        _released = released;
        _finished = finished;
    }

    public ActorSystem System { get; }

    /// <summary>This process's cluster address, "host:port".</summary>
    public string Address { get; private init; } = "";

    /// <param name="seeds">"host:port" of the processes to join; empty: this process is the first seed.</param>
    /// <param name="ranks">One entry per local rank.</param>
    /// <param name="observer">Where a supervisor running in this process reports the job.</param>
    /// <param name="akka">Extra HOCON over the node's (tests), or null.</param>
    /// <param name="akkaLog">Where Akka's own log goes (runs/&lt;run&gt;/akka.log); null: the console, as Akka does.</param>
    /// <param name="security">The job's [security]: remoting runs over mutual TLS with its certificates (<see cref="ClusterTrust.For"/>).</param>
    /// <param name="memoryOnly">This process trains nothing and holds buddy replicas on this channel (`forge node --memory-only`);
    /// <paramref name="ranks"/> is then empty.</param>
    /// <exception cref="ClusterTrustException">[security] does not let a node bound to <paramref name="host"/> start.</exception>
    public static JobNode Start(string host, int port, IReadOnlyList<string> seeds, IReadOnlyList<RankServices> ranks,
        SupervisorStarts starts, ICheckpointStore store, ITrainingObserver observer, Akka.Configuration.Config? akka = null, string? akkaLog = null,
        SecurityConfig? security = null, ReplicaServer? memoryOnly = null)
    {
        if (memoryOnly is not null && ranks.Count > 0)
            throw new ArgumentException($"a memory-only process trains nothing, yet {ranks.Count} rank(s) were given", nameof(ranks));
        if (seeds.Count == 0 && port == 0)
            throw new ArgumentException("the first seed of a cluster needs a fixed port (--cluster-port): the other processes join it there", nameof(port));
        var trust = ClusterTrust.For(host, security ?? new SecurityConfig());
        var overrides = akkaLog is null ? akka : ForgeAkkaConfig.LoggingTo(akka ?? Akka.Configuration.Config.Empty, akkaLog);
        var system = ForgeAkkaConfig.CreateNode(host, port, seeds.Count > 0 ? seeds : [$"{host}:{port}"], trust, overrides);
        var self = AkkaCluster.Get(system).SelfAddress;
        starts.Host = $"{self.Host}:{self.Port}";

        var finished = new FinishedHere(observer);
        system.ActorOf(DeadNodeDowning.Props(), "dead-node-downing");
        system.ActorOf(ClusterSingletonManager.Props(
            JobSupervisor.SingletonProps(starts, store, finished), PoisonPill.Instance,
            ClusterSingletonManagerSettings.Create(system).WithRemovalMargin(ElasticTimings.SingletonRemovalMargin)), JobSupervisor.Name);
        var supervisorPaths = SupervisorLocator.For(system);
        var released = new TaskCompletionSource<LeaveJob>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (memoryOnly is not null)
            system.ActorOf(ReplicaHolder.Props(starts.JobId, starts.Host, memoryOnly, supervisorPaths, leave => released.TrySetResult(leave)), "replica-holder");
        else
            system.ActorOf(RankHost.Props(ranks, supervisorPaths, released: leave => released.TrySetResult(leave)), "ranks");
        return new JobNode(system, supervisorPaths, starts, released.Task, finished) { Address = starts.Host };
    }

    /// <summary>
    /// Runs until this process's ranks have left the job for good and no supervisor runs here any more.
    /// Cancelling <paramref name="ct"/> with <paramref name="stopJobOnCancel"/> asks the supervisor to checkpoint and
    /// stop the job (the seed's Ctrl-C); without, it only ends this process's part (a node's Ctrl-C).
    /// </summary>
    public async Task<JobNodeResult> RunAsync(bool stopJobOnCancel, CancellationToken ct)
    {
        var left = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var stop = ct.Register(() =>
        {
            if (stopJobOnCancel)
                foreach (var path in _supervisorPaths()) System.ActorSelection(path).Tell(new StopJob("cancelled by the host"));
            else left.TrySetResult();
        });
        var ended = await Task.WhenAny(_released, left.Task, System.WhenTerminated).ConfigureAwait(false);
        if (ended == left.Task) return new JobNodeResult(null, null);
        if (ended == System.WhenTerminated && !_released.IsCompleted)
            return new JobNodeResult(new LeaveJob(ShutDownBecause(CoordinatedShutdown.Get(System).ShutdownReason), Refused: true), _finished.Finished);

        // The supervisor here reports the end once every rank has stopped: give it the time to.
        var deadline = DateTime.UtcNow + ElasticTimings.Shutdown;
        while (_starts.RunningHere && DateTime.UtcNow < deadline) await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
        return new JobNodeResult(await _released.ConfigureAwait(false), _finished.Finished);
    }

    /// <summary>
    /// Why the actor system shut itself down. Akka.Remote does so, with exit code 79, when an outbound
    /// TLS handshake fails: the seed refused this node's certificate, or this node the seed's.
    /// </summary>
    private static string ShutDownBecause(CoordinatedShutdown.Reason? reason) => reason?.ExitCode == 79
        ? $"{reason}: the seed and this node do not trust each other's certificate (security.ca_certificate, security.node_certificate; the log says which side refused and why)"
        : $"this node's actor system shut down: {reason?.ToString() ?? "no reason given"}";

    /// <summary>Leaves the cluster gracefully (a supervisor here hands over to the next oldest) and stops the actor system.</summary>
    public async ValueTask DisposeAsync() =>
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);

    /// <summary>Passes every report on, and keeps the end of a job whose supervisor ran in this process.</summary>
    private sealed class FinishedHere(ITrainingObserver inner) : ITrainingObserver
    {
        private volatile JobFinished? _finished;
        public JobFinished? Finished => _finished;

        public void OnJobStarted(JobStarted info) => inner.OnJobStarted(info);
        public void OnStep(StepReport report) => inner.OnStep(report);
        public void OnEval(long step, Forge.Model.Evaluation.HeldOutLosses losses) => inner.OnEval(step, losses);
        public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) => inner.OnCheckpoint(step, stallSeconds, writeSeconds);
        public void OnMessage(string message) => inner.OnMessage(message);

        public void OnJobFinished(JobFinished info)
        {
            _finished = info;
            inner.OnJobFinished(info);
        }
    }
}

/// <summary>
/// How a process's part in a cluster job ended: the last word to its ranks (null when the process was
/// cancelled), and the job's end when its supervisor ran in this process (null otherwise).
/// </summary>
public sealed record JobNodeResult(LeaveJob? LastLeave, JobFinished? Finished);
