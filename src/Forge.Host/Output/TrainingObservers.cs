using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Model.Evaluation;

namespace Forge.Host.Output;

/// <summary>
/// Fans each report out to every output of a run. An output that throws (a full disk under
/// metrics.jsonl) is reported once and dropped rather than stopping the training job.
/// </summary>
public sealed class TrainingObservers(IEnumerable<ITrainingObserver> observers, Action<string>? onFailure = null) : ITrainingObserver
{
    private readonly Lock _gate = new();
    private readonly List<ITrainingObserver> _observers = observers.ToList();

    public void OnJobStarted(JobStarted info) => Each(o => o.OnJobStarted(info));
    public void OnStep(StepReport report) => Each(o => o.OnStep(report));
    public void OnEval(long step, HeldOutLosses losses) => Each(o => o.OnEval(step, losses));
    public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) => Each(o => o.OnCheckpoint(step, stallSeconds, writeSeconds));
    public void OnMessage(string message) => Each(o => o.OnMessage(message));
    public void OnJobFinished(JobFinished info) => Each(o => o.OnJobFinished(info));

    private void Each(Action<ITrainingObserver> report)
    {
        ITrainingObserver[] current;
        lock (_gate) current = [.. _observers];
        foreach (var observer in current)
        {
            try
            {
                report(observer);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
            {
                lock (_gate) _observers.Remove(observer);
                onFailure?.Invoke($"{observer.GetType().Name} stopped: {e.Message}");
            }
        }
    }
}
