using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Host.Output;
using Forge.Model.Config;
using Spectre.Console;

namespace Forge.Host.Hosting;

/// <summary>
/// Runs one job the way every job command does: run-directory outputs, a live bar on a terminal
/// or log lines otherwise, SIGINT/SIGTERM handling, captions of held-out images once a job has
/// finished or stopped, and an exit code with a resume hint.
/// Exit codes: 0 finished or stopped cleanly by a signal, 1 the job failed.
/// </summary>
internal static class JobSession
{
    /// <param name="captions">The held-out tests of the job's last checkpoint (null: none to show); run after the live bar has ended.</param>
    public static Task<int> RunAsync(
        JobConfig config,
        RunDirectory run,
        bool resume,
        IAnsiConsole console,
        Func<ITrainingObserver, CancellationToken, Task<JobFinished>> job,
        Func<CancellationToken, Task<HeldOutReport?>>? captions = null) =>
        RunAsync(config, run, resume, console, (observer, _, ct) => job(observer, ct), captions);

    /// <param name="job">Runs the job; it may mirror the run's journal (events.jsonl) into the job's store.</param>
    public static async Task<int> RunAsync(
        JobConfig config,
        RunDirectory run,
        bool resume,
        IAnsiConsole console,
        Func<ITrainingObserver, EventJournal, CancellationToken, Task<JobFinished>> job,
        Func<CancellationToken, Task<HeldOutReport?>>? captions = null)
    {
        using var outputs = RunOutputs.Open(config.Metrics, run, resume);
        using var signals = new StopSignals(message => console.MarkupLine($"[yellow]{Markup.Escape(message)}[/]")).Register();
        using var journalStop = signals.Token.Register(() =>
            outputs.Journal.Note("stop_requested", $"{signals.StoppedBy}: finishing the step, then a checkpoint"));

        JobFinished finished;
        try
        {
            // The live bar moves every step; files and log lines get the steps train.log_interval selects.
            var files = Everything(console, [.. outputs.Observers]);
            var logInterval = config.Train.LogInterval;
            finished = TerminalProgress.Supported(console)
                ? await TerminalProgress.RunAsync(console, bar =>
                    job(Everything(console, bar, new LoggedSteps(logInterval, files)), outputs.Journal, signals.Token))
                : await job(new LoggedSteps(logInterval,
                    Everything(console, new LogLineProgress(console.Profile.Out.Writer), files)), outputs.Journal, signals.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A job that cannot start (no checkpoint to resume, a checkpoint of another model) or crashed.
            outputs.Journal.Note("job_failed", e.Message);
            console.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
            return 1;
        }

        if (finished.Error is null && captions is not null) await ShowHeldOutTestsAsync(console, run, outputs, captions);

        if (!finished.Completed)
            console.MarkupLine(finished.ResumeHint is { } hint
                ? Markup.Escape(hint)
                : $"to continue this run: [bold]{Markup.Escape(ResumeHint(run))}[/]");
        return finished.Error is null ? 0 : 1;
    }

    /// <summary>
    /// The summary table and captions on the console, captions.jsonl, captions.png, and the caption scores
    /// in metrics.jsonl and TensorBoard. The training result stands whatever happens here, so a failure is
    /// a warning, not an exit code. Not cancellable by the stop signal: a stopped job still shows its
    /// held-out tests (a second signal exits at once).
    /// </summary>
    private static async Task ShowHeldOutTestsAsync(IAnsiConsole console, RunDirectory run, RunOutputs outputs,
        Func<CancellationToken, Task<HeldOutReport?>> captions)
    {
        try
        {
            if (await captions(CancellationToken.None) is not { } report) return;
            CaptionReport.Show(console, report, run.Captions);
            outputs.RecordCaptionScores(report.Step, report.Scores);
            if (report.Tests.Any(t => t.ShownCount > 0))
            {
                CaptionSheet.Write(report, run.CaptionSheet);
                console.MarkupLine($"[grey](captions sheet: {Markup.Escape(run.CaptionSheet)})[/]");
            }
        }
        catch (Exception e)
        {
            console.MarkupLine($"[yellow]warning:[/] no captions for held-out images: {Markup.Escape(e.Message)}");
        }
    }

    public static string ResumeHint(RunDirectory run) => $"forge resume {run.Path}";

    private static ITrainingObserver Everything(IAnsiConsole console, params ITrainingObserver[] observers) =>
        new TrainingObservers(observers, failure => console.MarkupLine($"[yellow]warning:[/] {Markup.Escape(failure)}"));
}
