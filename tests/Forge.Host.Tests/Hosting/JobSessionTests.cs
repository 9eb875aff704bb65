using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Host.Configuration;
using Forge.Host.Hosting;
using Forge.Host.Output;
using Forge.Model.Evaluation;
using Spectre.Console;
using System.Text.Json;

namespace Forge.Host.Tests.Hosting;

public sealed class JobSessionTests
{
    private static IAnsiConsole Recorder(StringWriter into) => RecordingConsole.Create(into);

    private static readonly Forge.Model.Config.JobConfig Config = JobConfigLoader.Parse("run_name = \"session\"\n", "session.toml");

    /// <summary>What a job does with its observer: start, a report every step, an eval, a checkpoint, finish.</summary>
    private static Task<JobFinished> FakeJob(ITrainingObserver o, bool completed, string? error = null)
    {
        o.OnJobStarted(new JobStarted("session", 2, 0, 30, 1000));
        for (var done = 1; done <= 30; done++) o.OnStep(Reports.Step(done, 5.0 - done / 10.0));
        o.OnEval(30, new HeldOutLosses(2.5, null));
        o.OnCheckpoint(30, 0.1, 0.4);
        var finished = new JobFinished(30, completed, null, error);
        o.OnJobFinished(finished);
        return Task.FromResult(finished);
    }

    [Fact]
    public async Task AFinishedJobLeavesLoggedStepsInMetricsJournalAndTensorBoardAndExitsZero()
    {
        using var dir = new TempDirectory();
        var run = new RunDirectory(dir.File("session"));
        var console = new StringWriter();

        var code = await JobSession.RunAsync(Config, run, resume: false, Recorder(console), (o, _) => FakeJob(o, completed: true));

        Assert.Equal(0, code);
        // log_interval 10 (the default): the first step, every 10th, then the eval line of step 30.
        Assert.Equal([1L, 10L, 20L, 30L, 30L], MetricsLog.Read(run.Metrics).Select(p => p.Step));
        Assert.Equal(["job_started", "checkpoint", "job_finished"], JournalEntry.ReadAll(run.Events).Select(e => e.Event));
        Assert.Single(Directory.GetFiles(run.TensorBoard, "events.out.tfevents.*"));
        Assert.DoesNotContain("forge resume", console.ToString());
        Assert.Contains("step 30/30", console.ToString()); // plain progress goes to the session's console
    }

    [Fact]
    public async Task AStoppedJobExitsZeroAndSaysHowToResume()
    {
        using var dir = new TempDirectory();
        var run = new RunDirectory(dir.File("session"));
        var console = new StringWriter();

        var code = await JobSession.RunAsync(Config, run, resume: false, Recorder(console), (o, _) => FakeJob(o, completed: false));

        Assert.Equal(0, code);
        Assert.Contains($"forge resume {run.Path}", console.ToString());
    }

    [Fact]
    public async Task AFailedJobExitsOne()
    {
        using var dir = new TempDirectory();
        var run = new RunDirectory(dir.File("session"));

        var code = await JobSession.RunAsync(Config, run, resume: false, Recorder(new StringWriter()), (o, _) => FakeJob(o, false, "NCCL error"));

        Assert.Equal(1, code);
        Assert.Equal("NCCL error", JournalEntry.ReadAll(run.Events).Last().Text("error"));
    }

    [Fact]
    public async Task AJobThatCannotStartExitsOneAndIsJournaled()
    {
        using var dir = new TempDirectory();
        var run = new RunDirectory(dir.File("session"));
        var console = new StringWriter();

        var code = await JobSession.RunAsync(Config, run, resume: true, Recorder(console),
            (_, _) => throw new InvalidOperationException("run 'session' has no committed checkpoint to resume from"));

        Assert.Equal(1, code);
        Assert.Contains("no committed checkpoint", console.ToString());
        Assert.Equal("job_failed", JournalEntry.ReadAll(run.Events).Last().Event);
    }

    private static Func<CancellationToken, Task<HeldOutReport?>> Captions(params GeneratedCaption[] captions) =>
        _ => Task.FromResult<HeldOutReport?>(new HeldOutReport(30,
            [new HeldOutTestReport(HeldOutTestReport.UnseenNames, "eval.jsonl", 1.5, CaptionScores.Of(captions), captions, captions.Length)]));

    [Fact]
    public async Task CaptionsFollowTheFinalSummaryAndAreSavedInTheRunDirectory()
    {
        using var dir = new TempDirectory();
        var run = new RunDirectory(dir.File("session"));
        var console = new StringWriter();

        var code = await JobSession.RunAsync(Config, run, resume: false, Recorder(console), (o, _) => FakeJob(o, completed: true),
            Captions(new GeneratedCaption("/data/images/heart.png", "red heart", "red hat"), new GeneratedCaption("/data/images/car.png", "blue car & co", "blue")));

        Assert.Equal(0, code);
        var text = console.ToString();
        Assert.True(text.IndexOf("Captions for held-out images:", StringComparison.Ordinal) > text.IndexOf("finished at step 30", StringComparison.Ordinal));
        Assert.Contains("x heart.png\n      reference: red heart\n      generated: red hat", text.ReplaceLineEndings("\n"));
        var lines = File.ReadAllLines(run.Captions).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(["red hat", "blue"], lines.Select(l => l.GetProperty("generated").GetString()));
        Assert.Equal("blue car & co", lines[1].GetProperty("reference").GetString());
        Assert.Equal("/data/images/car.png", lines[1].GetProperty("image").GetString());
        Assert.All(lines, l => Assert.Equal(30, l.GetProperty("step").GetInt64()));
    }

    [Fact]
    public async Task AStoppedJobShowsCaptionsBeforeTheResumeHint()
    {
        using var dir = new TempDirectory();
        var run = new RunDirectory(dir.File("session"));
        var console = new StringWriter();

        await JobSession.RunAsync(Config, run, resume: false, Recorder(console), (o, _) => FakeJob(o, completed: false),
            Captions(new GeneratedCaption("a.png", "red heart", "red")));

        var text = console.ToString();
        Assert.True(text.IndexOf("Captions for held-out images:", StringComparison.Ordinal) < text.IndexOf("forge resume", StringComparison.Ordinal));
        Assert.True(File.Exists(run.Captions));
    }

    [Fact]
    public async Task AFailedJobShowsNoCaptions()
    {
        using var dir = new TempDirectory();
        var run = new RunDirectory(dir.File("session"));
        var asked = false;

        await JobSession.RunAsync(Config, run, resume: false, Recorder(new StringWriter()), (o, _) => FakeJob(o, false, "NCCL error"),
            _ => { asked = true; return Task.FromResult<HeldOutReport?>(null); });

        Assert.False(asked);
        Assert.False(File.Exists(run.Captions));
    }

    [Fact]
    public async Task ACaptioningFailureIsAWarningAndTheTrainingResultStands()
    {
        using var dir = new TempDirectory();
        var run = new RunDirectory(dir.File("session"));
        var console = new StringWriter();

        var code = await JobSession.RunAsync(Config, run, resume: false, Recorder(console), (o, _) => FakeJob(o, completed: true),
            _ => throw new FileNotFoundException("data/emoji-google/eval.jsonl not found"));

        Assert.Equal(0, code);
        Assert.Contains("warning: no captions for held-out images: data/emoji-google/eval.jsonl not found", console.ToString());
    }

    [Fact]
    public async Task MetricsOutputsFollowTheMetricsSection()
    {
        using var dir = new TempDirectory();
        var run = new RunDirectory(dir.File("session"));
        var quiet = JobConfigLoader.Parse("run_name = \"session\"\n[metrics]\ntensorboard = false\njsonl = false\n", "quiet.toml");

        await JobSession.RunAsync(quiet, run, resume: false, Recorder(new StringWriter()), (o, _) => FakeJob(o, completed: true));

        Assert.False(File.Exists(run.Metrics));
        Assert.False(Directory.Exists(run.TensorBoard));
        Assert.True(File.Exists(run.Events));
    }
}
