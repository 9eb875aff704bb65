using System.CommandLine;
using Forge.Host.Output;
using Spectre.Console;

namespace Forge.Host.Commands;

/// <summary>`forge plot runs/name`: loss and throughput curves as a PNG.</summary>
public static class PlotCommand
{
    public static Command Create()
    {
        var runDir = CommonOptions.RunDirectory();
        var output = new Option<string?>("--output", "-o") { Description = "PNG path (default: <run-dir>/plot.png)" };
        var command = new Command("plot", "Draw a run's training loss, held-out eval losses and tokens/s against step into a PNG (from metrics.jsonl), with the run's captions.png beside them.")
        {
            runDir, output,
        };
        command.SetAction(parse => Run(parse.GetValue(runDir)!, parse.GetValue(output), ForgeConsole.Create()));
        return command;
    }

    internal static int Run(string runPath, string? outputPath, IAnsiConsole console)
    {
        var run = new RunDirectory(runPath);
        var points = MetricsLog.Read(run.Metrics);
        if (!points.Any(p => p.Loss is not null))
            return CommandReport.Error(console, $"{run.Metrics}: no logged training steps to plot");

        var path = outputPath ?? run.Plot;
        TrainingCurvePlot.Write(points, path, Path.GetFileName(Path.GetFullPath(run.Path)));
        // The end-of-run captions sheet (train/resume write it) goes beside the curves it explains.
        var sheet = File.Exists(run.CaptionSheet);
        if (sheet) CaptionSheet.PlaceBeside(path, run.CaptionSheet);
        var evals = points.Count(p => p.EvalLoss is not null || p.EvalArtLoss is not null);
        console.MarkupLine($"wrote {Markup.Escape(path)} ({points.Count(p => p.Loss is not null)} steps, {evals} evals{(sheet ? ", captions sheet beside" : "")})");
        return 0;
    }
}
