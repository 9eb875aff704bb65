using Akka.Actor;
using Akka.Event;
using Forge.Actors.Protocol;

namespace Forge.Actors.Ranks;

/// <summary>
/// Parent of a process's rank actors, one per local device, and their replacement policy.
/// A rank the supervisor drops while the job goes on (it failed a step, went silent, or could
/// not join) is replaced by a fresh <see cref="RankActor"/>, with a fresh torch thread, which
/// registers again and joins the re-formed world from the last checkpoint. That is how a
/// single-machine job survives a transient rank failure instead of waiting for ranks that
/// will never come. elastic.max_restarts on the supervisor bounds the loop: once it gives up,
/// its answer to a registration is a final <see cref="LeaveJob"/>.
/// A rank whose actor crashed is replaced the same way (the host stops, never restarts, a crashed
/// rank: a restart would keep a half-torn-down engine and torch thread).
/// A rank told that the job has finished, or refused, is not replaced; the host stops after its last rank.
/// The host is also its ranks' step relay (<see cref="StepRelay"/>): the supervisor sends it each step once for
/// all of them, and it answers once, with every local rank's result.
/// </summary>
public sealed class RankHost : ReceiveActor, IWithTimers
{
    private readonly IReadOnlyList<RankServices> _slots;
    private readonly Func<IReadOnlyList<string>> _supervisorPaths;
    private readonly TimeSpan _replaceAfter;
    private readonly Dictionary<IActorRef, int> _running = new();
    private readonly HashSet<IActorRef> _leftForGood = new();
    private readonly HashSet<int> _pendingReplacement = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Action<LeaveJob>? _released;
    private readonly StepRelay _relay = new();
    private LeaveJob? _lastLeave;
    private int _generation;

    /// <param name="slots">One entry per local rank (its device and services).</param>
    /// <param name="supervisorPath">Where the job supervisor lives (see <see cref="RankActor.Props"/>).</param>
    /// <param name="replaceAfter">Pause before a dropped rank's replacement starts: the old rank's torch thread gets time to let go of the device.</param>
    /// <param name="released">Called once, with the last rank's <see cref="LeaveJob"/>, when the host stops for good.</param>
    public RankHost(IReadOnlyList<RankServices> slots, Func<IReadOnlyList<string>> supervisorPaths, TimeSpan replaceAfter, Action<LeaveJob>? released = null)
    {
        _slots = slots;
        _supervisorPaths = supervisorPaths;
        _replaceAfter = replaceAfter;
        _released = released;

        Receive<RankLeaving>(leaving =>
        {
            _relay.Left(Sender);   // asked to leave by the supervisor: its stop is no news to it
            _lastLeave = leaving.Leave;
            if (!leaving.Leave.MayRejoin) _leftForGood.Add(Sender);
        });
        Receive<RelayMember>(m => _relay.Joined(m.WorldEpoch, m.Rank, Sender));
        // Forwarded, so each rank sees the supervisor as the sender, as if sent to it directly.
        Receive<RunStep>(run =>
        {
            _relay.Supervisor = Sender;
            _relay.Relaying(run.WorldEpoch, run.Step);
            foreach (var rank in _relay.MembersOf(run.WorldEpoch)) rank.Forward(run);
        });
        Receive<SaveShard>(save =>
        {
            foreach (var rank in _relay.MembersOf(save.WorldEpoch)) rank.Forward(save);
        });
        Receive<ReplicateShard>(replicate => _relay.Member(replicate.WorldEpoch, replicate.Rank)?.Forward(replicate));
        Receive<StepDone>(done =>
        {
            if (_relay.Done(done) is { } all) _relay.Supervisor.Tell(new StepsDone(done.WorldEpoch, done.Result.Step, all));
        });
        // A failure is news at once, and the supervisor blames (or spares) its sender, the rank.
        Receive<StepFailed>(failed => _relay.Supervisor.Forward(failed));
        Receive<Terminated>(t =>
        {
            // The host sees a rank's death first. Remote death watch reached the supervisor up to a second late in the
            // W = 4096 benchmark (one run in four), past the replacement's registration; a step failure from the rank's
            // own reference tells it at once, and it drops that rank as for any failed step.
            if (_relay.Left(t.ActorRef) is { } lost)
                _relay.Supervisor.Tell(new StepFailed(lost.Epoch, lost.Rank, lost.Step, "the rank's actor stopped (seen by its process's rank host)", PeerFailure: false), t.ActorRef);
            if (!_running.Remove(t.ActorRef, out var slot)) return;
            if (!_leftForGood.Remove(t.ActorRef))
            {
                _log.Info("rank slot {0} (device {1}) was dropped from the job or crashed; a fresh rank starts in {2} s", slot, _slots[slot].Device, _replaceAfter.TotalSeconds);
                _pendingReplacement.Add(slot);
                Timers.StartSingleTimer(("replace", slot), new Replace(slot), _replaceAfter);
            }
            else if (_running.Count == 0 && _pendingReplacement.Count == 0)
            {
                _released?.Invoke(_lastLeave ?? new LeaveJob("the ranks stopped"));
                Context.Stop(Self);
            }
        });
        Receive<Replace>(r =>
        {
            _pendingReplacement.Remove(r.Slot);
            Spawn(r.Slot);
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override SupervisorStrategy SupervisorStrategy() => new StoppingSupervisorStrategy().Create();

    public static Props Props(IReadOnlyList<RankServices> slots, string supervisorPath, TimeSpan? replaceAfter = null, Action<LeaveJob>? released = null) =>
        Props(slots, () => [supervisorPath], replaceAfter, released);

    public static Props Props(IReadOnlyList<RankServices> slots, Func<IReadOnlyList<string>> supervisorPaths, TimeSpan? replaceAfter = null, Action<LeaveJob>? released = null) =>
        Akka.Actor.Props.Create(() => new RankHost(slots, supervisorPaths, replaceAfter ?? ElasticTimings.ReplacementDelay, released));

    protected override void PreStart()
    {
        for (var slot = 0; slot < _slots.Count; slot++) Spawn(slot);
    }

    private void Spawn(int slot)
    {
        // A new name per generation: the dropped rank's name may still be in use while it stops.
        var rank = Context.ActorOf(RankActor.Props(_slots[slot], _supervisorPaths, relay: Self), $"rank-{slot}-{_generation++}");
        Context.Watch(rank);
        _running[rank] = slot;
    }

    private sealed record Replace(int Slot);
}
