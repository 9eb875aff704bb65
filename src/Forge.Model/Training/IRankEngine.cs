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
    /// Restores this rank's shard from saved shards of any world size that cover its range, and refreshes
    /// the compute replica (a collective: every rank calls it). Engines without resume support throw.
    /// </summary>
    void LoadShard(IReadOnlyList<OptimizerShard> sources) =>
        throw new NotSupportedException($"{GetType().Name} cannot load optimizer shards");

    /// <summary>The flat layout's total (unpadded) element count and per-parameter entries, for manifests.</summary>
    FlatLayoutInfo Layout { get; }
}

/// <summary>A parameter's place in the flat layout.</summary>
public sealed record FlatParameter(string Name, long[] Shape, long Offset, long Numel);

/// <summary>All trainable parameters in a fixed order, padded to a multiple of the world size.</summary>
public sealed record FlatLayoutInfo(IReadOnlyList<FlatParameter> Parameters, long Numel, long PaddedNumel);

/// <summary>
/// What one step produced on one rank (loss is already the global weighted value when Reduced is true).
/// EvalLoss holds the held-out tests' mean token losses after the step's update, on eval steps only; they
/// are global (every rank reports the same values).
/// </summary>
public sealed record StepResult(
    long Step,
    double Loss,
    long Tokens,
    int Samples,
    double GradNorm,
    double LearningRate,
    StepTimings Timings,
    HeldOutLosses? EvalLoss = null);

/// <summary>Seconds spent per phase of a step on one rank.</summary>
public sealed record StepTimings(double Data, double Compute, double ReduceScatter, double Optimizer, double AllGather, double Total);
