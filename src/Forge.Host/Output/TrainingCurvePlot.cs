using ScottPlot;

namespace Forge.Host.Output;

/// <summary>
/// plot.png for `forge plot`: training loss (and the held-out tests' eval losses as markers) against step on the left
/// axis, throughput in tokens/s on the right, so a stall or a rescale shows next to the curve.
/// </summary>
public static class TrainingCurvePlot
{
    public static void Write(IReadOnlyList<MetricsPoint> points, string path, string title, int width = 1200, int height = 700)
    {
        var train = points.Where(p => p.Loss is { } l && double.IsFinite(l)).ToList();
        if (train.Count == 0) throw new InvalidOperationException("no logged training steps to plot");
        var evals = points.Where(p => p.EvalLoss is { } l && double.IsFinite(l)).ToList();
        var artEvals = points.Where(p => p.EvalArtLoss is { } l && double.IsFinite(l)).ToList();
        var rates = train.Where(p => p.TokensPerSecond is { } r && double.IsFinite(r)).ToList();

        var plot = new Plot();
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel("loss");

        var loss = plot.Add.Scatter(train.Select(p => (double)p.Step).ToArray(), train.Select(p => p.Loss!.Value).ToArray());
        loss.LegendText = "train loss";
        loss.MarkerSize = 0;
        loss.LineWidth = 2;

        if (evals.Count > 0)
        {
            var eval = plot.Add.Scatter(evals.Select(p => (double)p.Step).ToArray(), evals.Select(p => p.EvalLoss!.Value).ToArray());
            eval.LegendText = artEvals.Count > 0 ? "eval loss, unseen names" : "eval loss";
            eval.LineWidth = 0;
            eval.MarkerSize = 8;
        }

        if (artEvals.Count > 0)
        {
            var art = plot.Add.Scatter(artEvals.Select(p => (double)p.Step).ToArray(), artEvals.Select(p => p.EvalArtLoss!.Value).ToArray());
            art.LegendText = "eval loss, unseen art";
            art.LineWidth = 0;
            art.MarkerSize = 8;
            art.MarkerShape = MarkerShape.FilledSquare;
        }

        if (rates.Count > 0)
        {
            var throughput = plot.Add.Scatter(rates.Select(p => (double)p.Step).ToArray(), rates.Select(p => p.TokensPerSecond!.Value).ToArray());
            throughput.LegendText = "tokens/s";
            throughput.MarkerSize = 0;
            throughput.LinePattern = LinePattern.Dashed;
            throughput.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "tokens/s";
            // From zero, so a dip reads as its true share of the throughput.
            plot.Axes.SetLimitsY(0, rates.Max(p => p.TokensPerSecond!.Value) * 1.1, plot.Axes.Right);
        }

        plot.ShowLegend(Alignment.UpperRight);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, width, height);
    }
}
