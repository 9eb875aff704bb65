using Forge.Model.Evaluation;
using Forge.Model.Training;

namespace Forge.Actors.Training;

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

/// <summary>One logged step, aggregated over ranks.</summary>
public sealed record StepReport(
    long Step,
    double Loss,
    double LearningRate,
    double GradNorm,
    long Tokens,
    double TokensPerSecond,
    int WorldSize,
    double WallSeconds,
    StepTimings SlowestRank);

public sealed record JobFinished(long FinalStep, bool Completed, string? ResumeHint, string? Error);
