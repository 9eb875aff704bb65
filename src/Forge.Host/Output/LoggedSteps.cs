using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Model.Evaluation;

namespace Forge.Host.Output;

/// <summary>
/// Applies train.log_interval: the job reports every step, and this passes on the steps that are
/// logged (every N-th, the first of a (re)start, the last, and every skipped one) to the outputs behind it. Everything
/// else (evals, checkpoints, messages) passes unchanged. The live bar sits outside it and moves every step.
/// </summary>
public sealed class LoggedSteps(long logInterval, ITrainingObserver inner) : ITrainingObserver
{
    private long _startStep = -1;
    private long _maxSteps;

    public void OnJobStarted(JobStarted info)
    {
        _startStep = info.StartStep;
        _maxSteps = info.MaxSteps;
        inner.OnJobStarted(info);
    }

    public void OnStep(StepReport report)
    {
        var done = report.StepsDone;
        // A skipped (diverged) step is always logged: it is what the reader of metrics.jsonl looks for.
        if (done % logInterval == 0 || done == _startStep + 1 || done >= _maxSteps || report.Skipped) inner.OnStep(report);
    }

    public void OnEval(long step, HeldOutLosses losses) => inner.OnEval(step, losses);
    public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) => inner.OnCheckpoint(step, stallSeconds, writeSeconds);
    public void OnMessage(string message) => inner.OnMessage(message);
    public void OnJobFinished(JobFinished info) => inner.OnJobFinished(info);
}
