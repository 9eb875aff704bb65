using Forge.Actors.Protocol;
using Forge.Model.Config;
using Forge.Model.Evaluation;

namespace Forge.Host.Output;

/// <summary>
/// A `forge node`'s run outputs, opened only when a supervisor in that process first reports, that is
/// when the node has taken the job over. Opening them at start would create the run directory while
/// the seed, on the same machine, still decides whether an earlier run there must be moved aside, and
/// the node would then write into the moved directory. Opened for appending: the seed may have
/// written the same files.
/// </summary>
public sealed class DeferredRunOutputs(MetricsConfig metrics, RunDirectory run, Action<EventJournal> opened) : ITrainingObserver, IDisposable
{
    private readonly Lock _gate = new();
    private RunOutputs? _outputs;
    private TrainingObservers? _files;

    private ITrainingObserver Files
    {
        get
        {
            lock (_gate)
            {
                if (_files is null)
                {
                    _outputs = RunOutputs.Open(metrics, run, resume: true);
                    _files = new TrainingObservers(_outputs.Observers);
                    opened(_outputs.Journal);
                }
                return _files;
            }
        }
    }

    public void OnJobStarted(JobStarted info) => Files.OnJobStarted(info);
    public void OnStep(StepReport report) => Files.OnStep(report);
    public void OnEval(long step, HeldOutLosses losses) => Files.OnEval(step, losses);
    public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) => Files.OnCheckpoint(step, stallSeconds, writeSeconds);
    public void OnMessage(string message) => Files.OnMessage(message);
    public void OnJobFinished(JobFinished info) => Files.OnJobFinished(info);

    public void Dispose()
    {
        lock (_gate) _outputs?.Dispose();
    }
}
