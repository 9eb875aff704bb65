using Forge.Model.Evaluation;
using Forge.Model.Training;

namespace Forge.Actors.Protocol;

/// <summary>
/// How a running job reports to its host (progress bar, metrics.jsonl, TensorBoard). Called from
/// the supervisor; implementations must be quick and thread-safe.
/// </summary>
public interface ITrainingObserver
{
    void OnJobStarted(JobStarted info);
    void OnStep(StepReport report);
    /// <summary>The held-out tests' mean token losses after `step` steps done (the numbering of checkpoints and JobStarted).</summary>
    void OnEval(long step, HeldOutLosses losses);
    void OnCheckpoint(long step, double stallSeconds, double writeSeconds);
    void OnMessage(string message);
    void OnJobFinished(JobFinished info);
}

public sealed record JobStarted(string RunName, int WorldSize, long StartStep, long MaxSteps, long TrainableParameters);

/// <summary>
/// One step of the world, aggregated over its ranks: <see cref="Tokens"/> are the global batch's target
/// tokens (counted once, not per rank), and <see cref="SlowestRank"/> the phase times of the slowest rank.
/// <see cref="Skipped"/> is a diverged step (loss or gradient norm not finite) whose update no rank applied;
/// <see cref="Routing"/> is the MoE routing of the global batch, for models with MoE layers.
/// </summary>
public sealed record StepReport(
    long Step,
    double Loss,
    double LearningRate,
    double GradNorm,
    long Tokens,
    double TokensPerSecond,
    int WorldSize,
    double WallSeconds,
    StepTimings SlowestRank,
    bool Skipped = false,
    RoutingStats? Routing = null,
    long? MemoryStep = null)
{
    /// <summary>
    /// The step number every output shows. <see cref="Step"/> is the 0-based index of the optimizer step
    /// (IRankEngine.RunStep's argument), while checkpoints, JobStarted and train.max_steps count steps done;
    /// outputs use steps done, so "step 100" in metrics, TensorBoard, the progress bar and a checkpoint mean one model state.
    /// </summary>
    public long StepsDone => Step + 1;
}

public sealed record JobFinished(long FinalStep, bool Completed, string? ResumeHint, string? Error);
