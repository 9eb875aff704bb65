using Akka.Actor;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Security;

namespace Forge.Actors.Cluster;

/// <summary>
/// A Forge cluster node without a supervisor: it joins the seed's cluster and runs one
/// <see cref="RankActor"/> per device, each registering with the seed node's job supervisor.
///
/// Why the seed's supervisor rather than a cluster singleton: the job is launched on the seed
/// (`forge train`), which owns the run directory and the observer output; a singleton's handover to
/// another node would move the supervisor away from both and needs the extra Akka.Cluster.Tools
/// package. A lost seed ends the job, and `forge resume` continues it from the last committed
/// checkpoint; the ranks here re-register if a supervisor comes back at the same address.
/// </summary>
public sealed class NodeHost : IAsyncDisposable
{
    private readonly IActorRef _ranks;   // the RankHost

    private readonly Task<LeaveJob> _released;

    private NodeHost(ActorSystem system, IActorRef ranks, Task<LeaveJob> released)
    {
        System = system;
        _ranks = ranks;
        _released = released;
    }

    public ActorSystem System { get; }

    /// <summary>Starts the node; `servicesFor(device)` supplies each rank's engine, backend and store.</summary>
    public static NodeHost Start(NodeOptions options, Func<int, RankServices> servicesFor)
    {
        var devices = options.Devices();
        var trust = ClusterTrust.For(options.Host, options.Security);
        var system = ForgeAkkaConfig.CreateNode(options.Host, options.Port, [options.Seed], trust);
        var supervisor = ForgeAkkaConfig.SupervisorPath(options.Seed, tls: trust is not null);
        var released = new TaskCompletionSource<LeaveJob>(TaskCreationOptions.RunContinuationsAsynchronously);
        var ranks = system.ActorOf(RankHost.Props(devices.Select(servicesFor).ToList(), supervisor, released: leave => released.TrySetResult(leave)), "ranks");
        return new NodeHost(system, ranks, released.Task);
    }

    /// <summary>
    /// Completes when every rank has left the job for good (it finished, or refused them; dropped ranks are
    /// replaced), with the last rank's <see cref="LeaveJob"/>; null when <paramref name="ct"/> ended the wait.
    /// </summary>
    public async Task<LeaveJob?> RunAsync(CancellationToken ct)
    {
        try
        {
            await _ranks.WatchAsync(ct).ConfigureAwait(false);
            if (_released.IsCompleted) return await _released.ConfigureAwait(false);
            return CoordinatedShutdown.Get(System).ShutdownReason is { } reason and not CoordinatedShutdown.ClrExitReason
                ? new LeaveJob(ShutDownBecause(reason), Refused: true)
                : new LeaveJob("the ranks stopped");
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { return null; }
    }

    /// <summary>
    /// Why the actor system shut itself down. Akka.Remote does so, with exit code 79, when an outbound
    /// TLS handshake fails: the seed refused this node's certificate, or this node the seed's.
    /// </summary>
    private static string ShutDownBecause(CoordinatedShutdown.Reason reason) => reason.ExitCode == 79
        ? $"{reason}: the seed and this node do not trust each other's certificate (security.ca_certificate, security.node_certificate; the log says which side refused and why)"
        : $"this node's actor system shut down: {reason}";

    /// <summary>Leaves the cluster gracefully (the supervisor sees the ranks go) and stops the actor system.</summary>
    public async ValueTask DisposeAsync() =>
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);
}
