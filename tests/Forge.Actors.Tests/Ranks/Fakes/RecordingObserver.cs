using System.Collections.Concurrent;
using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Model.Evaluation;

namespace Forge.Actors.Tests.Ranks.Fakes;

/// <summary>Keeps everything a job reported, for assertions.</summary>
public sealed class RecordingObserver : ITrainingObserver
{
    public ConcurrentQueue<JobStarted> Started { get; } = new();
    public ConcurrentQueue<StepReport> Steps { get; } = new();
    public ConcurrentQueue<(long Step, double Loss)> Evals { get; } = new();
    public ConcurrentQueue<long> Checkpoints { get; } = new();
    public ConcurrentQueue<string> Messages { get; } = new();
    public ConcurrentQueue<JobFinished> Finished { get; } = new();
    public Action<StepReport>? AfterStep { get; set; }

    public void OnJobStarted(JobStarted info) => Started.Enqueue(info);
    public void OnStep(StepReport report) { Steps.Enqueue(report); AfterStep?.Invoke(report); }
    public ConcurrentQueue<(long Step, HeldOutLosses Losses)> HeldOutEvals { get; } = new();
    public void OnEval(long step, HeldOutLosses losses)
    {
        HeldOutEvals.Enqueue((step, losses));
        if (losses.UnseenNames is { } names) Evals.Enqueue((step, names));
    }
    public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) => Checkpoints.Enqueue(step);
    public void OnMessage(string message) => Messages.Enqueue(message);
    public void OnJobFinished(JobFinished info) => Finished.Enqueue(info);
}
