using Forge.Actors.Protocol;
using Forge.Model.Distributed;
using Forge.Model.Optim;
using Forge.Model.Training;

namespace Forge.Actors.Ranks;

/// <summary>
/// Builds a rank's engine for one formed world. Both members are called on the rank's dedicated
/// torch thread, so the engine may rely on per-thread torch state (device, dispose scopes, grad mode).
/// </summary>
public interface IRankEngineFactory
{
    /// <summary>Called once, first thing on the rank's thread: bind it to `device` (a CUDA index, or -1 for CPU).</summary>
    void PrepareThread(int device);

    /// <summary>
    /// The engine of rank `assignment.Rank` over `collectives`. `restored` is the rank's slice of the
    /// last committed checkpoint, already resharded to this world; null starts from the model's init.
    /// </summary>
    IRankEngine Create(RankAssignment assignment, ICollectives collectives, OptimizerShard? restored);
}
