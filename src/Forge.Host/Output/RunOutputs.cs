using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Host.Output.TensorBoard;
using Forge.Model.Config;
using Forge.Model.Evaluation;

namespace Forge.Host.Output;

/// <summary>
/// The files a running job writes into its run directory, as chosen by [metrics]: metrics.jsonl,
/// TensorBoard events, and always events.jsonl (the journal `forge status` reads).
/// </summary>
public sealed class RunOutputs : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    private RunOutputs(EventJournal journal, IReadOnlyList<ITrainingObserver> observers)
    {
        Journal = journal;
        Observers = observers;
    }

    /// <summary>
    /// The end-of-run caption scores, into metrics.jsonl and TensorBoard as [metrics] chooses. They come
    /// from the host after the job, not from the supervisor, hence not through <see cref="ITrainingObserver"/>.
    /// </summary>
    public void RecordCaptionScores(long step, HeldOutScores scores)
    {
        foreach (var observer in Observers)
        {
            if (observer is MetricsJsonlWriter metrics) metrics.OnCaptionScores(step, scores);
            else if (observer is TensorBoardWriter tensorBoard) tensorBoard.OnCaptionScores(step, scores);
        }
    }

    public EventJournal Journal { get; }

    /// <summary>Every file output, the journal included.</summary>
    public IReadOnlyList<ITrainingObserver> Observers { get; }

    /// <param name="resume">Append to metrics.jsonl instead of starting it over.</param>
    public static RunOutputs Open(MetricsConfig metrics, RunDirectory run, bool resume)
    {
        run.Create();
        var journal = new EventJournal(run.Events);
        var observers = new List<ITrainingObserver> { journal };
        if (metrics.Jsonl) observers.Add(new MetricsJsonlWriter(run.Metrics, append: resume));
        if (metrics.Tensorboard) observers.Add(new TensorBoardWriter(run.TensorBoard));
        var outputs = new RunOutputs(journal, observers);
        outputs._owned.AddRange(observers.OfType<IDisposable>());
        return outputs;
    }

    public void Dispose()
    {
        foreach (var owned in _owned) owned.Dispose();
    }
}
