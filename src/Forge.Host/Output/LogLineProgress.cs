using System.Globalization;
using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Model.Evaluation;

namespace Forge.Host.Output;

/// <summary>
/// Progress as plain timestamped lines, for output that is not a terminal (CI logs, `| tee`,
/// nohup): no cursor movement, one line per logged step, eval, checkpoint and message.
/// </summary>
public sealed class LogLineProgress(TextWriter output, TimeProvider? clock = null) : ITrainingObserver
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly JobClock _job = new(clock);
    private long _maxSteps;

    public void OnJobStarted(JobStarted info)
    {
        _maxSteps = info.MaxSteps;
        _job.Start(info);
        Line(ProgressText.Started(info));
    }

    public void OnStep(StepReport r) =>
        Line($"{ProgressText.Step(r, _maxSteps)}  eta {ProgressText.Duration(_job.Remaining(r.StepsDone))}");

    public void OnEval(long step, HeldOutLosses losses) => Line($"eval {ProgressText.Eval(step, losses)}");

    public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) =>
        Line(string.Create(CultureInfo.InvariantCulture, $"checkpoint step {step}  stall {stallSeconds:F2}s  write {writeSeconds:F2}s"));

    public void OnMessage(string message) => Line(message);

    public void OnJobFinished(JobFinished info) => Line(ProgressText.Finished(info));

    private void Line(string text)
    {
        lock (_gate)
        {
            output.WriteLine($"{_clock.GetUtcNow():HH:mm:ss} {text}");
            output.Flush();
        }
    }
}
