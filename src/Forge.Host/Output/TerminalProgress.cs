using System.Globalization;
using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Model.Evaluation;
using Spectre.Console;

namespace Forge.Host.Output;

/// <summary>
/// A live progress bar on a terminal (Spectre.Console): step, loss, tokens/s in the description,
/// the bar, and the remaining time. Evals, checkpoints and messages print as lines above it.
/// Use <see cref="RunAsync{T}"/>, which owns the live display for the duration of the job.
/// </summary>
public sealed class TerminalProgress : ITrainingObserver
{
    private readonly IAnsiConsole _console;
    private readonly ProgressTask _task;
    private long _maxSteps;

    private TerminalProgress(IAnsiConsole console, ProgressTask task)
    {
        _console = console;
        _task = task;
    }

    /// <summary>Whether <paramref name="console"/> can show a live bar (a terminal, not a pipe or file).</summary>
    public static bool Supported(IAnsiConsole console) => !Console.IsOutputRedirected && console.Profile.Capabilities.Interactive;

    public static Task<T> RunAsync<T>(IAnsiConsole console, Func<ITrainingObserver, Task<T>> job) =>
        console.Progress()
            .AutoClear(false)
            .Columns(
                new SpinnerColumn(),
                new TaskDescriptionColumn { Alignment = Justify.Left },
                new ProgressBarColumn(),
                new PercentageColumn(),
                new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask("forming the world", autoStart: false);
                task.IsIndeterminate = true;
                return await job(new TerminalProgress(console, task));
            });

    public void OnJobStarted(JobStarted info)
    {
        _maxSteps = info.MaxSteps;
        _task.MaxValue = info.MaxSteps;
        _task.Value = info.StartStep;
        _task.IsIndeterminate = false;
        _task.Description = Markup.Escape(info.StartStep > 0 ? $"resuming at step {info.StartStep}" : "starting");
        Line(Markup.Escape(ProgressText.Started(info)));
        _task.StartTask();
    }

    public void OnStep(StepReport r)
    {
        _task.Value = r.StepsDone;
        _task.Description = Markup.Escape(ProgressText.Compact(r, _maxSteps));
    }

    public void OnEval(long step, HeldOutLosses losses) => Line($"[blue]eval[/] {Markup.Escape(ProgressText.Eval(step, losses))}");

    public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) =>
        Line(string.Create(CultureInfo.InvariantCulture, $"[green]checkpoint[/] step {step}  stall {stallSeconds:F2}s  write {writeSeconds:F2}s"));

    public void OnMessage(string message) => Line(Markup.Escape(message));

    public void OnJobFinished(JobFinished info)
    {
        if (info.Completed) _task.Value = _task.MaxValue;
        _task.StopTask();
        Line(info.Error is null ? Markup.Escape(ProgressText.Finished(info)) : $"[red]{Markup.Escape(ProgressText.Finished(info))}[/]");
    }

    private void Line(string markup) => _console.MarkupLine(markup);
}
