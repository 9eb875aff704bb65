using Akka.Actor;
using Akka.Event;
using Forge.Actors.Protocol;

namespace Forge.Actors.Replication;

/// <summary>
/// The actor of a memory-only process (`forge node --memory-only`): it offers the process's replica channel to
/// the job's supervisor as a buddy for ranks that have no other process to copy to, such as a one-GPU job, and
/// trains nothing. The bytes go to its <see cref="ReplicaServer"/>; this actor only registers.
/// States: Registering (repeats <see cref="RegisterReplicaHolder"/>, listing the copies it holds, until the
/// supervisor answers) and Holding (keeps the copies that supervisor names with each round and watches it; when it
/// is gone, registers again with the next one, which may restore from the copies kept).
/// </summary>
public sealed class ReplicaHolder : ReceiveActor, IWithTimers
{
    private const string RegisterTimer = "register";

    private readonly string _jobId;
    private readonly string _node;
    private readonly ReplicaServer _server;
    private readonly Func<IReadOnlyList<string>> _supervisorPaths;
    private readonly TimeSpan _retry;
    private readonly Action<LeaveJob> _released;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ReplicaHolder(string jobId, string node, ReplicaServer server, Func<IReadOnlyList<string>> supervisorPaths, TimeSpan retry, Action<LeaveJob> released)
    {
        _jobId = jobId;
        _node = node;
        _server = server;
        _supervisorPaths = supervisorPaths;
        _retry = retry;
        _released = released;
        BecomeRegistering();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="released">Called once, with the supervisor's last word, when the job ends or refuses this process.</param>
    public static Props Props(string jobId, string node, ReplicaServer server, Func<IReadOnlyList<string>> supervisorPaths, Action<LeaveJob> released,
        TimeSpan? retry = null) =>
        Akka.Actor.Props.Create(() => new ReplicaHolder(jobId, node, server, supervisorPaths, retry ?? ElasticTimings.RegisterRetry, released));

    private void BecomeRegistering()
    {
        Timers.StartPeriodicTimer(RegisterTimer, RegisterNow.Instance, TimeSpan.Zero, _retry);
        Become(() => Registering([]));
    }

    /// <param name="listed">The steps of the copies the registrations so far listed: the ones an answer that adopts none frees.</param>
    private void Registering(HashSet<ReplicaStep> listed)
    {
        Receive<RegisterNow>(_ =>
        {
            var held = _server.Store.Held(_jobId);
            listed.UnionWith(held.Select(c => new ReplicaStep(c.WorldEpoch, c.Step)));
            var registration = new RegisterReplicaHolder(_jobId, _node, _server.Endpoint, held.Count > 0 ? new ReplicaInventory(_server.Endpoint, held) : null);
            foreach (var path in _supervisorPaths()) Context.ActorSelection(path).Tell(registration);
        });
        Receive<ReplicaHolderRegistered>(registered =>
        {
            Timers.Cancel(RegisterTimer);
            _server.Trust(registered.ReplicaSecret);
            // Copies of a previous supervisor's job that this one did not adopt serve no restore; a copy that
            // arrived after the registration listed its holdings is not among them.
            if (!registered.KeepHeld && listed.Count > 0)
                _server.Store.Retain(_jobId, _server.Store.Held(_jobId).Select(c => new ReplicaStep(c.WorldEpoch, c.Step)).Where(s => !listed.Contains(s)).ToArray());
            _log.Info("memory-only node {0}: replica channel {1} registered with the supervisor at {2}", _node, _server.Endpoint, Sender.Path);
            var supervisor = Sender;
            Context.Watch(supervisor);
            Become(() => Holding(supervisor));
        });
        Receive<LeaveJob>(Leave);
    }

    private void Holding(IActorRef supervisor)
    {
        Receive<ReplicaHolderRegistered>(_ => { });   // a retry that crossed the first answer
        Receive<RegisterNow>(_ => { });
        Receive<RetainReplicas>(retain => retain.JobId == _jobId, retain => _server.Store.Retain(_jobId, retain.Keep));
        Receive<Terminated>(t => t.ActorRef.Equals(supervisor), _ =>
        {
            // The copies stay: the next supervisor hears of them in the registration and may restore from them.
            _log.Info("memory-only node {0}: the supervisor at {1} is gone; registering again with the copies it holds", _node, supervisor.Path);
            BecomeRegistering();
        });
        Receive<LeaveJob>(Leave);
    }

    private void Leave(LeaveJob leave)
    {
        _log.Info("memory-only node {0} leaves the job: {1}", _node, leave.Reason);
        _released(leave);
        Context.Stop(Self);
    }

    private sealed record RegisterNow
    {
        public static RegisterNow Instance { get; } = new();
    }
}
