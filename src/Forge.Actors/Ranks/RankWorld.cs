using Forge.Actors.Protocol;
using Forge.Model.Distributed;
using Forge.Model.Optim;
using Forge.Model.Training;

namespace Forge.Actors.Ranks;

/// <summary>
/// A rank's membership in one formed world: its collective group and the engine built on it.
/// Created, used and disposed on the rank's torch thread; only <see cref="Abort"/> is called from
/// the actor, because aborting the group is what frees a torch thread blocked on a dead peer.
/// </summary>
internal sealed class RankWorld : IDisposable
{
    private readonly ICollectives _collectives;
    private volatile bool _aborted;

    private RankWorld(RankAssignment assignment, ICollectives collectives, IRankEngine engine)
    {
        Assignment = assignment;
        _collectives = collectives;
        Engine = engine;
    }

    public RankAssignment Assignment { get; }
    public IRankEngine Engine { get; }
    public long Epoch => Assignment.WorldEpoch;

    /// <summary>Joins the group and builds the engine; torch thread only.</summary>
    public static RankWorld Join(RankServices services, RankAssignment assignment, OptimizerShard? restored)
    {
        var collectives = services.Backend.Join(assignment.GroupId, assignment.Rank, assignment.WorldSize, services.JoinTimeout);
        IRankEngine? engine = null;
        try
        {
            engine = services.Engines.Create(assignment, collectives, restored);
            return new RankWorld(assignment, collectives, engine);
        }
        catch
        {
            engine?.Dispose();
            collectives.Dispose();
            throw;
        }
    }

    /// <summary>Runs one step; torch thread only. A step queued before an abort fails fast instead of entering a dead group.</summary>
    public StepResult RunStep(long step)
    {
        if (_aborted) throw new CollectiveException($"world {Epoch} was aborted before step {step} started");
        return Engine.RunStep(step);
    }

    /// <summary>Thread-safe: makes pending and later collectives of this world fail instead of hanging.</summary>
    public void Abort(string reason)
    {
        _aborted = true;
        _collectives.Abort(reason);
    }

    public void Dispose()
    {
        Engine.Dispose();
        _collectives.Dispose();
    }
}
