using Akka.Actor;
using Akka.Event;
using Forge.Actors.Protocol;

namespace Forge.Actors.Replication;

/// <summary>
/// The actor of a memory-only process (`forge node --memory-only`): it offers the process's replica channel to
/// the job's supervisor as a buddy for ranks that have no other process to copy to, such as a one-GPU job, and
/// trains nothing. The bytes go to its <see cref="ReplicaServer"/>; this actor only registers.
/// States: Registering (repeats <see cref="RegisterReplicaHolder"/> until the supervisor answers) and Holding
/// (watches that supervisor; when it is gone, with the copies it knew of, registers again with the next one).
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
        Become(Registering);
    }

    private void Registering()
    {
        Receive<RegisterNow>(_ =>
        {
            var registration = new RegisterReplicaHolder(_jobId, _node, _server.Endpoint);
            foreach (var path in _supervisorPaths()) Context.ActorSelection(path).Tell(registration);
        });
        Receive<ReplicaHolderRegistered>(registered =>
        {
            Timers.Cancel(RegisterTimer);
            _server.Trust(registered.ReplicaSecret);
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
        Receive<Terminated>(t => t.ActorRef.Equals(supervisor), _ =>
        {
            // A new supervisor restores from the store and knows nothing of these copies: free them.
            _server.Store.Retain(_jobId, []);
            _log.Info("memory-only node {0}: the supervisor at {1} is gone; registering again", _node, supervisor.Path);
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
