using Forge.Actors.Checkpointing;

namespace Forge.Actors.Supervision;

/// <summary>What the supervisor does after a barrier or a commit.</summary>
public enum NextMove
{
    /// <summary>Run the next step.</summary>
    RunStep,
    /// <summary>Save a checkpoint of the steps done, and run the next step while it writes.</summary>
    Checkpoint,
    /// <summary>A checkpoint is due while the previous one still writes: run on, checkpoint at the first step after it is durable.</summary>
    DeferCheckpoint,
    /// <summary>Save the last checkpoint (max steps reached, or a stop request); the job ends when it commits.</summary>
    FinalCheckpoint,
    /// <summary>The job must end, but the checkpoint in flight has to commit first.</summary>
    AwaitCheckpoint,
    /// <summary>End the job now: nothing new to save.</summary>
    Finish,
}

/// <summary>What the supervisor does about buddy copies before the next step.</summary>
public enum ReplicaMove
{
    /// <summary>No copy is due.</summary>
    None,
    /// <summary>Copy the shards as they stand to their buddies; the sends overlap the next step.</summary>
    Copy,
    /// <summary>A copy is due while the previous round is still on its way: run on, copy at the first step after that round ends.</summary>
    Defer,
}

/// <summary>Whether the ranks in the pool make a world now.</summary>
public enum FormingMove { Wait, Settle, Form }

/// <summary>
/// The supervisor's decisions, free of actors: when a world forms, what follows a step, when a job gives
/// up. Each is a function of the settings and the facts passed in, so it is tested without a cluster.
/// </summary>
public sealed class JobPolicy(JobSupervisorSettings settings)
{
    /// <summary>
    /// The first formation of a launch waits for every launched rank (when known), or for min_ranks plus a
    /// settle window; a re-formation after a loss forms as soon as min_ranks are there, since every second
    /// waited is a second of recovery (later ranks join at the next checkpoint).
    /// </summary>
    public FormingMove Forming(int available, bool firstWorld)
    {
        if (firstWorld && settings.ExpectedRanks > 0) return available >= settings.ExpectedRanks ? FormingMove.Form : FormingMove.Wait;
        if (settings.MaxRanks > 0 && available >= settings.MaxRanks) return FormingMove.Form;
        if (available < settings.MinRanks) return FormingMove.Wait;
        return firstWorld && settings.FormationSettle > TimeSpan.Zero ? FormingMove.Settle : FormingMove.Form;
    }

    /// <summary>The ranks a world of <paramref name="available"/> candidates takes (max_ranks bounds it).</summary>
    public int WorldSize(int available) => settings.MaxRanks > 0 ? Math.Min(available, settings.MaxRanks) : available;

    /// <summary>
    /// Samples per optimizer step, fixed once for the job: train.global_batch_size when set (a resume may
    /// change it on purpose), else the resumed checkpoint's, else batch_size × the first world's size.
    /// </summary>
    public int GlobalBatchSize(CheckpointManifest? resumedFrom, int firstWorldSize)
    {
        if (settings.GlobalBatchSize > 0) return settings.GlobalBatchSize;
        if (resumedFrom is { GlobalBatchSize: > 0 } manifest) return manifest.GlobalBatchSize;
        return settings.BatchSize * firstWorldSize;
    }

    /// <summary>
    /// After <paramref name="stepsDone"/> steps: the job ends at max_steps or on a stop request, with a last
    /// checkpoint unless nothing changed since <paramref name="committedStep"/>. A checkpoint is due every
    /// checkpoint.interval steps, or now when one was deferred. Only one checkpoint writes at a time, and a
    /// due one never holds training back: it is deferred instead (the final one must wait).
    /// </summary>
    public NextMove AfterStep(long stepsDone, long committedStep, bool stopRequested, bool checkpointInFlight, bool checkpointDeferred)
    {
        var final = stepsDone >= settings.MaxSteps || stopRequested;
        var progressed = stepsDone > committedStep;
        if (final && !progressed) return checkpointInFlight ? NextMove.AwaitCheckpoint : NextMove.Finish;
        var due = progressed && (final || checkpointDeferred || (settings.CheckpointInterval > 0 && stepsDone % settings.CheckpointInterval == 0));
        if (!due) return NextMove.RunStep;
        if (checkpointInFlight) return final ? NextMove.AwaitCheckpoint : NextMove.DeferCheckpoint;
        return final ? NextMove.FinalCheckpoint : NextMove.Checkpoint;
    }

    /// <summary>
    /// Before the step after <paramref name="stepsDone"/> steps: a copy to the buddies is due every
    /// elastic.replica_interval steps, or now when one was deferred. One round of copies is on its way at a time
    /// (two copies of a shard at most: the newest complete one and the one being sent), and a due one never holds
    /// training back: like a checkpoint, it is deferred instead. So a link slower than a step makes copies rarer
    /// (the work a failure costs is then about one copy's transfer time), never the steps slower.
    /// The capture itself (device to host memory, before the next step) does hold a step; with
    /// elastic.replica_max_overhead set, a copy is also deferred until <paramref name="sinceLastRound"/> (since the
    /// previous round began) is at least <paramref name="lastCapture"/> (that round's longest capture) over it, so
    /// captures take at most that share of the time. 13.2 GB off one H200 is 0.26 s, 2.5 steps of ca-1b.
    /// </summary>
    public ReplicaMove Replica(long stepsDone, bool roundInFlight, bool deferred, TimeSpan sinceLastRound = default, TimeSpan lastCapture = default)
    {
        var due = settings.ReplicaInterval > 0 && stepsDone > 0 && (deferred || stepsDone % settings.ReplicaInterval == 0);
        if (!due) return ReplicaMove.None;
        if (roundInFlight || OverBudget(sinceLastRound, lastCapture)) return ReplicaMove.Defer;
        return ReplicaMove.Copy;
    }

    /// <summary>True when a round begun now would make captures more than elastic.replica_max_overhead of the time.</summary>
    private bool OverBudget(TimeSpan sinceLastRound, TimeSpan lastCapture) =>
        settings.ReplicaMaxOverhead > 0 && lastCapture > TimeSpan.Zero && lastCapture.TotalSeconds > settings.ReplicaMaxOverhead * sinceLastRound.TotalSeconds;

    /// <summary>True when one more re-formation would exceed elastic.max_restarts.</summary>
    public bool GivesUpAfter(int restarts) => restarts > settings.MaxRestarts;

    /// <summary>True when this many skipped (diverged) steps in a row stop the job (train.max_bad_steps).</summary>
    public bool TooManyBadSteps(int inARow) => settings.MaxBadSteps > 0 && inARow >= settings.MaxBadSteps;

    /// <summary>True when a commit should re-form the world to take in waiting ranks.</summary>
    public bool ScalesUp(int available, int worldSize, bool stopRequested) =>
        !stopRequested && available > worldSize && (settings.MaxRanks == 0 || worldSize < settings.MaxRanks);
}
