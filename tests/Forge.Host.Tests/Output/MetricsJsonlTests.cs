using System.Text.Json;
using Forge.Actors.Protocol;
using Forge.Host.Output;
using Forge.Model.Evaluation;

namespace Forge.Host.Tests.Output;

public sealed class MetricsJsonlTests
{
    private static readonly string[] RequiredKeys = ["step", "loss", "lr", "grad_norm", "tokens", "tokens_per_s", "world_size", "wall_s", "step_s"];

    private static string[] ReadLines(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public void AStepLogsTheNewestStepCopiedToMemoryOnlyWhenThereIsOne()
    {
        using var dir = new TempDirectory();
        using (var writer = new MetricsJsonlWriter(dir.File("metrics.jsonl"), append: false))
        {
            writer.OnStep(Reports.Step(10, 5.5));
            writer.OnStep(Reports.Step(11, 5.4) with { MemoryStep = 9 });
        }

        var lines = ReadLines(dir.File("metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.False(lines[0].TryGetProperty("memory_step", out _));
        Assert.Equal(9, lines[1].GetProperty("memory_step").GetInt64());
    }

    [Fact]
    public void EachLoggedStepIsOneJsonObjectCarryingTheReportedValues()
    {
        using var dir = new TempDirectory();
        var reports = new[] { Reports.Step(10, 5.5), Reports.Step(20, 4.25), Reports.Step(30, 3.125) };
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        using (var writer = new MetricsJsonlWriter(dir.File("metrics.jsonl"), append: false, clock))
        {
            writer.OnJobStarted(new JobStarted("r", 2, 0, 30, 1));
            foreach (var r in reports)
            {
                clock.Advance(TimeSpan.FromSeconds(2.5));
                writer.OnStep(r);
            }
        }

        var lines = ReadLines(dir.File("metrics.jsonl"));

        Assert.Equal(reports.Length, lines.Length);
        for (var i = 0; i < lines.Length; i++)
        {
            var o = JsonDocument.Parse(lines[i]).RootElement;
            Assert.All(RequiredKeys, key => Assert.True(o.TryGetProperty(key, out _), $"missing {key} in {lines[i]}"));
            var r = reports[i];
            Assert.Equal(r.Step + 1, o.GetProperty("step").GetInt64()); // steps done, as checkpoints count them
            Assert.Equal(r.Loss, o.GetProperty("loss").GetDouble());
            Assert.Equal(r.LearningRate, o.GetProperty("lr").GetDouble());
            Assert.Equal(r.GradNorm, o.GetProperty("grad_norm").GetDouble());
            Assert.Equal(r.Tokens, o.GetProperty("tokens").GetInt64());
            Assert.Equal(r.TokensPerSecond, o.GetProperty("tokens_per_s").GetDouble());
            Assert.Equal(r.WorldSize, o.GetProperty("world_size").GetInt32());
            Assert.Equal(2.5 * (i + 1), o.GetProperty("wall_s").GetDouble(), 9);
            Assert.Equal(r.WallSeconds, o.GetProperty("step_s").GetDouble());
            Assert.Equal(r.SlowestRank.Compute, o.GetProperty("slowest_rank_s").GetProperty("compute").GetDouble());
        }
    }

    [Fact]
    public void AnMoeStepLogsItsRoutingLossesAndTokensPerExpertApartFromTheLoss()
    {
        using var dir = new TempDirectory();
        var routing = new Forge.Model.Training.RoutingStats(AuxLoss: 2.5, ZLoss: 6.25, TokensPerExpert: [[3, 5, 0, 8], [4, 4, 4, 4]]);
        using (var writer = new MetricsJsonlWriter(dir.File("metrics.jsonl"), append: false))
        {
            writer.OnJobStarted(new JobStarted("r", 1, 0, 10, 1));
            writer.OnStep(Reports.Step(1, 4.0) with { Routing = routing });
            writer.OnStep(Reports.Step(2, 3.0));
        }

        var lines = ReadLines(dir.File("metrics.jsonl"));

        var moe = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal(4.0, moe.GetProperty("loss").GetDouble());
        Assert.Equal(2.5, moe.GetProperty("moe_aux_loss").GetDouble());
        Assert.Equal(6.25, moe.GetProperty("moe_router_z_loss").GetDouble());
        var perLayer = moe.GetProperty("moe_tokens_per_expert").EnumerateArray().Select(l => l.EnumerateArray().Select(c => c.GetInt64()).ToArray()).ToArray();
        Assert.Equal(new long[][] { [3, 5, 0, 8], [4, 4, 4, 4] }, perLayer);
        // A dense model's lines carry no MoE keys.
        Assert.False(JsonDocument.Parse(lines[1]).RootElement.TryGetProperty("moe_aux_loss", out _));
    }

    [Fact]
    public void AnEvalAddsALineWithEvalLossAtItsStep()
    {
        using var dir = new TempDirectory();
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        using var writer = new MetricsJsonlWriter(dir.File("m.jsonl"), append: false, clock);
        writer.OnJobStarted(new JobStarted("r", 2, 0, 100, 1));
        writer.OnStep(Reports.Step(50, 2.0));
        clock.Advance(TimeSpan.FromSeconds(7));
        writer.OnEval(50, new HeldOutLosses(2.5, null));

        var eval = JsonDocument.Parse(ReadLines(dir.File("m.jsonl"))[1]).RootElement;

        Assert.Equal(50, eval.GetProperty("step").GetInt64());
        Assert.Equal(2.5, eval.GetProperty("eval_loss").GetDouble());
        Assert.Equal(7.0, eval.GetProperty("wall_s").GetDouble());
    }

    [Fact]
    public void AnEvalLineCarriesTheLossOfEachConfiguredHeldOutTest()
    {
        using var dir = new TempDirectory();
        using (var writer = new MetricsJsonlWriter(dir.File("m.jsonl"), append: false))
        {
            writer.OnEval(150, new HeldOutLosses(1.25, 0.5));
            writer.OnEval(300, new HeldOutLosses(null, 0.25));
        }

        var lines = ReadLines(dir.File("m.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToArray();

        Assert.Equal(1.25, lines[0].GetProperty("eval_loss").GetDouble());
        Assert.Equal(0.5, lines[0].GetProperty("eval_art_loss").GetDouble());
        Assert.False(lines[1].TryGetProperty("eval_loss", out _));   // not configured: no key, not a null
        Assert.Equal(0.25, lines[1].GetProperty("eval_art_loss").GetDouble());
        var read = MetricsLog.Read(dir.File("m.jsonl"));
        Assert.Equal([(1.25, 0.5), (null, 0.25)], read.Select(p => (p.EvalLoss, p.EvalArtLoss)));
        Assert.DoesNotContain(read, p => p.HasCaptionScores);
    }

    [Fact]
    public void TheCaptionScoresLineCarriesEachTestsExactMatchSimilarityAndCountAndReadsBack()
    {
        using var dir = new TempDirectory();
        using (var writer = new MetricsJsonlWriter(dir.File("m.jsonl"), append: false))
            writer.OnCaptionScores(900, new HeldOutScores(new CaptionScores(64, 0.125, 0.5), new CaptionScores(32, 0.75, 0.875)));

        var line = JsonDocument.Parse(ReadLines(dir.File("m.jsonl")).Single()).RootElement;

        Assert.Equal(900, line.GetProperty("step").GetInt64());
        Assert.Equal((0.125, 0.5, 64), (line.GetProperty("eval_exact_match").GetDouble(), line.GetProperty("eval_similarity").GetDouble(),
            line.GetProperty("eval_captioned").GetInt32()));
        Assert.Equal((0.75, 0.875, 32), (line.GetProperty("eval_art_exact_match").GetDouble(), line.GetProperty("eval_art_similarity").GetDouble(),
            line.GetProperty("eval_art_captioned").GetInt32()));
        var point = Assert.Single(MetricsLog.Read(dir.File("m.jsonl")));
        Assert.True(point.HasCaptionScores);
        Assert.Equal((0.125, 0.5, 0.75, 0.875), (point.EvalExactMatch, point.EvalSimilarity, point.EvalArtExactMatch, point.EvalArtSimilarity));
        Assert.Null(point.Loss);
    }

    [Fact]
    public void ALineIsOnDiskAsSoonAsItsStepIsReported()
    {
        using var dir = new TempDirectory();
        using var writer = new MetricsJsonlWriter(dir.File("m.jsonl"), append: false);

        writer.OnStep(Reports.Step(1, 9.0));
        Assert.Single(ReadLines(dir.File("m.jsonl")));
        writer.OnStep(Reports.Step(2, 8.0));
        Assert.Equal(2, ReadLines(dir.File("m.jsonl")).Length);
    }

    [Fact]
    public void ResumingAppendsAndStartingOverTruncates()
    {
        using var dir = new TempDirectory();
        var path = dir.File("m.jsonl");
        using (var first = new MetricsJsonlWriter(path, append: false)) first.OnStep(Reports.Step(1, 9.0));
        using (var resumed = new MetricsJsonlWriter(path, append: true)) resumed.OnStep(Reports.Step(2, 8.0));
        Assert.Equal(2, ReadLines(path).Length);

        using (var fresh = new MetricsJsonlWriter(path, append: false)) fresh.OnStep(Reports.Step(1, 9.0));
        Assert.Single(ReadLines(path));
    }

    [Fact]
    public void ADivergedLossSurvivesTheRoundTrip()
    {
        using var dir = new TempDirectory();
        using (var writer = new MetricsJsonlWriter(dir.File("m.jsonl"), append: false))
        {
            writer.OnStep(Reports.Step(1, double.NaN));
            writer.OnStep(Reports.Step(2, double.PositiveInfinity));
        }

        var points = MetricsLog.Read(dir.File("m.jsonl"));

        Assert.True(double.IsNaN(points[0].Loss!.Value));
        Assert.True(double.IsPositiveInfinity(points[1].Loss!.Value));
    }

    [Fact]
    public void TheReaderSkipsATornLastLine()
    {
        using var dir = new TempDirectory();
        using (var writer = new MetricsJsonlWriter(dir.File("m.jsonl"), append: false)) writer.OnStep(Reports.Step(1, 3.0));
        File.AppendAllText(dir.File("m.jsonl"), "{\"step\": 2, \"loss\": 2.");

        var points = MetricsLog.Read(dir.File("m.jsonl"));

        Assert.Equal([1L], points.Select(p => p.Step));
    }

    [Fact]
    public void AResumeFromAnEarlierCheckpointReplacesTheStepsItRedoes()
    {
        using var dir = new TempDirectory();
        using (var writer = new MetricsJsonlWriter(dir.File("m.jsonl"), append: false))
            foreach (var step in new[] { 10, 20, 30 }) writer.OnStep(Reports.Step(step, 10.0 - step / 10.0));
        using (var resumed = new MetricsJsonlWriter(dir.File("m.jsonl"), append: true))
            foreach (var step in new[] { 30, 40 }) resumed.OnStep(Reports.Step(step, 1.0));

        var points = MetricsLog.Read(dir.File("m.jsonl"));

        Assert.Equal([10L, 20L, 30L, 40L], points.Select(p => p.Step));
        Assert.Equal(1.0, points[2].Loss);
    }
}

public sealed class SkippedStepLoggingTests
{
    [Fact]
    public void ASkippedStepIsLoggedOffTheIntervalAndMarkedSkippedInMetricsJsonl()
    {
        using var dir = new TempDirectory();
        var path = dir.File("metrics.jsonl");
        using (var writer = new Forge.Host.Output.MetricsJsonlWriter(path, append: false))
        {
            var logged = new Forge.Host.Output.LoggedSteps(10, writer);
            logged.OnJobStarted(new JobStarted("run", 1, 0, 100, 10));
            logged.OnStep(Reports.Step(3, 2.0));                                      // off the interval: not logged
            logged.OnStep(Reports.Step(4, double.NaN) with { Skipped = true });       // skipped: logged anyway
            logged.OnStep(Reports.Step(10, 1.5));
        }

        var lines = File.ReadAllLines(path).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).Where(e => e.TryGetProperty("loss", out _)).ToList();
        Assert.Equal([4L, 10L], lines.Select(l => l.GetProperty("step").GetInt64()));
        Assert.True(lines[0].GetProperty("skipped").GetBoolean());
        Assert.Equal("NaN", lines[0].GetProperty("loss").GetString());
        Assert.False(lines[1].TryGetProperty("skipped", out _));
    }
}
