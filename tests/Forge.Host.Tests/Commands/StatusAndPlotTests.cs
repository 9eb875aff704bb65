using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Host.Commands;
using Forge.Host.Output;
using Forge.Model.Evaluation;
using Spectre.Console;

namespace Forge.Host.Tests.Commands;

public sealed class StatusAndPlotTests
{
    private static IAnsiConsole Recorder(StringWriter into) => RecordingConsole.Create(into);

    /// <summary>A run directory as a stopped two-rank job leaves it (no config: the store is not consulted).</summary>
    private static RunDirectory StoppedRun(TempDirectory dir)
    {
        var run = new RunDirectory(dir.File("demo"));
        run.Create();
        using (var metrics = new MetricsJsonlWriter(run.Metrics, append: false))
        {
            metrics.OnStep(Reports.Step(10, 5.25));
            metrics.OnStep(Reports.Step(20, 3.5));
            metrics.OnEval(20, new HeldOutLosses(3.75, null));
        }
        using (var journal = new EventJournal(run.Events))
        {
            journal.OnJobStarted(new JobStarted("demo", 2, 0, 300, 1000));
            journal.OnCheckpoint(20, 0.1, 0.3);
            journal.OnJobFinished(new JobFinished(20, false, $"forge resume {run.Path}", null));
        }
        return run;
    }

    [Fact]
    public async Task StatusShowsWorldStepLossCheckpointAndJournal()
    {
        using var dir = new TempDirectory();
        var run = StoppedRun(dir);
        var output = new StringWriter();

        var code = await StatusCommand.RunAsync(run.Path, Recorder(output));

        var text = output.ToString();
        Assert.Equal(0, code);
        Assert.Contains("2 rank(s)", text);
        Assert.Contains("20 / 300", text);
        Assert.Contains("3.5000 (first logged 5.2500 at step 10)", text);
        Assert.Contains("3.7500 at step 20", text);
        Assert.Contains("step 20 at", text);
        Assert.Contains($"stopped at step 20; continue with: forge resume {run.Path}", text);
        Assert.Contains("job_finished", text);
    }

    [Fact]
    public async Task StatusShowsBothHeldOutTestsAndTheirCaptionScores()
    {
        using var dir = new TempDirectory();
        var run = StoppedRun(dir);
        using (var metrics = new MetricsJsonlWriter(run.Metrics, append: true))
        {
            metrics.OnEval(20, new HeldOutLosses(3.5, 1.25));
            metrics.OnCaptionScores(20, new HeldOutScores(new CaptionScores(64, 0.125, 0.5), new CaptionScores(64, 0.75, 0.875)));
        }
        var output = new StringWriter();

        await StatusCommand.RunAsync(run.Path, Recorder(output));

        var text = output.ToString();
        Assert.Contains("3.5000 at step 20", text);
        Assert.Contains("1.2500 at step 20", text);
        Assert.Contains("unseen art 75% exact, similarity 0.88; unseen names 12% exact, similarity 0.50 at step 20", text);
    }

    [Fact]
    public async Task StatusOfAMissingRunIsAnError()
    {
        using var dir = new TempDirectory();
        var output = new StringWriter();

        Assert.Equal(2, await StatusCommand.RunAsync(dir.File("nope"), Recorder(output)));
        Assert.Contains("no such run directory", output.ToString());
    }

    [Fact]
    public void PlotWritesPlotPngIntoTheRunDirectory()
    {
        using var dir = new TempDirectory();
        var run = StoppedRun(dir);

        var code = PlotCommand.Run(run.Path, null, Recorder(new StringWriter()));

        Assert.Equal(0, code);
        Assert.True(new FileInfo(run.Plot).Length > 1000);
    }

    [Fact]
    public void PlotPutsTheRunsCaptionsSheetBesideTheCurves()
    {
        using var dir = new TempDirectory();
        var run = StoppedRun(dir);
        Forge.Model.Tests.Data.TestImages.Write(run.CaptionSheet, 400, 900, (_, _) => SkiaSharp.SKColors.Orange);

        Assert.Equal(0, PlotCommand.Run(run.Path, null, Recorder(new StringWriter())));

        using var plot = SkiaSharp.SKBitmap.Decode(run.Plot);
        Assert.Equal((1200 + 400, 900), (plot.Width, plot.Height));   // the curves are 1200 x 700
        Assert.Equal(SkiaSharp.SKColors.Orange, plot.GetPixel(1200 + 200, 850));
    }
}
