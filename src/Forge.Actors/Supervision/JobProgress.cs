using System.Collections.Immutable;
using Forge.Actors.Checkpointing;
using Forge.Actors.Protocol;
using Forge.Model.Optim;

namespace Forge.Actors.Supervision;

/// <summary>
/// What the job has achieved, whatever state the supervisor is in: the only data every state shares.
/// Immutable; the supervisor replaces it as the job moves on. Everything here is also what a manifest
/// or the journal records, so a supervisor can rebuild it from the job's store.
/// </summary>
internal sealed record JobProgress
{
    /// <summary>The newest world's epoch (0 before the first formation); messages of older epochs are stale.</summary>
    public long Epoch { get; init; }
    /// <summary>Completed steps = the next step to run.</summary>
    public long Step { get; init; }
    public long SamplesConsumed { get; init; }
    /// <summary>The checkpoint a new world restores, or null to start from the model's init.</summary>
    public CheckpointManifest? Committed { get; init; }
    /// <summary>The step in buddies' memory the next world restores instead of <see cref="Committed"/>, or null; cleared once that world formed.</summary>
    public MemoryRestore? FromMemory { get; init; }
    /// <summary>Damaged checkpoints found by restores in this job: never restored again.</summary>
    public ImmutableHashSet<long> Damaged { get; init; } = [];
    /// <summary>The flat layout the first rank reported; every later rank must match it.</summary>
    public FlatLayoutInfo? Layout { get; init; }
    /// <summary>Samples per step, fixed at the first formation (0 before it).</summary>
    public int GlobalBatchSize { get; init; }
    public int Restarts { get; init; }
    /// <summary>True once the first world formed (JobStarted was reported).</summary>
    public bool Started { get; init; }
    /// <summary>Set by a stop request: the job ends at the next barrier, with a checkpoint.</summary>
    public string? StopReason { get; init; }
    /// <summary>Diverged steps skipped in a row, and in all.</summary>
    public int BadStepsInARow { get; init; }
    public long SkippedSteps { get; init; }

    public long CommittedStep => Committed?.Step ?? 0;

    public static JobProgress ResumingFrom(CheckpointManifest? committed) => new()
    {
        Committed = committed,
        Step = committed?.Step ?? 0,
        SamplesConsumed = committed?.SamplesConsumed ?? 0,
        Layout = committed?.Layout,
    };

    /// <summary>Back to the committed checkpoint: the steps after it are run again by the next world.</summary>
    public JobProgress RolledBack() => this with { Step = CommittedStep, SamplesConsumed = Committed?.SamplesConsumed ?? 0, BadStepsInARow = 0, FromMemory = null };

    /// <summary>Back to a step every shard has in memory: the data cursor rewinds to it, and only the steps after it run again.</summary>
    public JobProgress RewoundTo(MemoryRestore restore) =>
        this with { Step = restore.Step, SamplesConsumed = restore.SamplesConsumed, BadStepsInARow = 0, FromMemory = restore };
}
