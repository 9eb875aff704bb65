using Akka.Actor;
using Forge.Actors.Protocol;

namespace Forge.Actors.Ranks;

/// <summary>
/// What a process's <see cref="RankHost"/> knows as its ranks' step relay: which local rank actors are members of
/// the newest world, and the step results gathered so far. The supervisor sends each process one
/// <see cref="RunStep"/> (and <see cref="SaveShard"/>, <see cref="ReplicateShard"/>), and gets back one
/// <see cref="StepsDone"/> per step, so a step costs it 2P messages for P processes instead of 2W for W ranks.
/// Everything the supervisor sends a rank between two steps rides the relay, so it reaches the rank in the order
/// sent: Akka orders messages only per sender and receiver, and a snapshot sent straight to the rank could
/// otherwise overtake, or be overtaken by, the relayed step.
/// </summary>
internal sealed class StepRelay
{
    private readonly Dictionary<int, IActorRef> _members = new();   // world rank -> local rank actor, of world _epoch
    private readonly Dictionary<long, List<StepDone>> _gathering = new();
    private long _epoch = -1;

    /// <summary>Who sent the world's steps: where the gathered results go.</summary>
    public IActorRef Supervisor { get; set; } = ActorRefs.Nobody;

    /// <summary>Local rank `actor` is rank `rank` of world `epoch`; a newer world replaces the older one's members.</summary>
    public void Joined(long epoch, int rank, IActorRef actor)
    {
        if (epoch < _epoch) return;   // a join of a world already superseded
        if (epoch > _epoch)
        {
            _epoch = epoch;
            _members.Clear();
            _gathering.Clear();
            LastStep = null;
        }
        _members[rank] = actor;
    }

    /// <summary>The newest step relayed to the members, or null before the first.</summary>
    public long? LastStep { get; private set; }

    /// <summary>A step of world `epoch` is relayed to its members now.</summary>
    public void Relaying(long epoch, long step)
    {
        if (epoch == _epoch) LastStep = step;
    }

    /// <summary>
    /// A local rank left or stopped: it is no member of any world any more. Returns its place in the world whose steps
    /// it was running (a step was relayed to it), else null.
    /// </summary>
    public (long Epoch, int Rank, long Step)? Left(IActorRef actor)
    {
        foreach (var (rank, member) in _members)
            if (member.Equals(actor))
            {
                _members.Remove(rank);
                return LastStep is { } step ? (_epoch, rank, step) : null;
            }
        return null;
    }

    /// <summary>The local members of world `epoch`; none for any other world (its messages are stale).</summary>
    public IEnumerable<IActorRef> MembersOf(long epoch) => epoch == _epoch ? _members.Values : [];

    /// <summary>The local actor of rank `rank` of world `epoch`, or null when it is not here.</summary>
    public IActorRef? Member(long epoch, int rank) => epoch == _epoch ? _members.GetValueOrDefault(rank) : null;

    /// <summary>
    /// Adds a local rank's result of a step; returns the results of every local member once the last of them reported
    /// that step, else null. Results of another world or of a rank that is no member are dropped.
    /// </summary>
    public IReadOnlyList<StepDone>? Done(StepDone done)
    {
        if (done.WorldEpoch != _epoch || !_members.ContainsKey(done.Rank)) return null;
        var step = done.Result.Step;
        if (!_gathering.TryGetValue(step, out var gathered)) _gathering[step] = gathered = new List<StepDone>(_members.Count);
        // One result per rank and step: a rank answers each relayed step once (the supervisor's barrier drops repeats anyway).
        gathered.Add(done);
        if (gathered.Count < _members.Count) return null;
        _gathering.Remove(step);
        return gathered;
    }
}
