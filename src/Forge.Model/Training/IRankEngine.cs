using Forge.Model.Evaluation;
using Forge.Model.Optim;

namespace Forge.Model.Training;

/// <summary>
/// One rank's numeric work, free of actors: the compute replica, the owned optimizer shard and
/// the data-parallel step (forward/backward on the rank's slice, reduce-scatter, clip, AdamW,
/// all-gather). A rank actor drives it from its dedicated torch thread.
/// </summary>
public interface IRankEngine : IDisposable
{
    int Rank { get; }
    int WorldSize { get; }

    /// <summary>Runs optimizer step `step` (0-based) and reports what the supervisor logs.</summary>
    StepResult RunStep(long step);

    /// <summary>Copies this rank's shard off the device into new arrays the caller owns.</summary>
    OptimizerShard SnapshotShard();

    /// <summary>
    /// Copies this rank's shard off the device for a checkpoint (the only checkpoint work on the step
    /// path). Engines may lend reusable host buffers: dispose the snapshot once it is durable.
    /// </summary>
    ShardSnapshot CaptureShard() => new(SnapshotShard());

    /// <summary>
    /// Copies this rank's shard off the device for a buddy replica (elastic.replica_interval). Engines may
    /// lend a double buffer: at most two replica snapshots are leased at once, and a third capture waits
    /// until one is disposed, which bounds a rank's replica memory to two copies of its shard.
    /// </summary>
    ShardSnapshot CaptureReplica() => new(SnapshotShard());

    /// <summary>
    /// Restores this rank's shard from saved shards of any world size that cover its range, and refreshes
    /// the compute replica (a collective: every rank calls it). Engines without resume support throw.
    /// </summary>
    void LoadShard(IReadOnlyList<OptimizerShard> sources) =>
        throw new NotSupportedException($"{GetType().Name} cannot load optimizer shards");

    /// <summary>The flat layout's total (unpadded) element count and per-parameter entries, for manifests.</summary>
    FlatLayoutInfo Layout { get; }
}
