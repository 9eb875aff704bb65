using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Host.Output;
using Forge.Model.Evaluation;

namespace Forge.Host.Tests.Output;

public sealed class ProgressTests
{
    [Fact]
    public void RemainingTimeCountsOnlyTheStepsRunInThisProcess()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var job = new JobClock(clock);
        job.Start(new JobStarted("r", 1, StartStep: 100, MaxSteps: 300, 1));

        Assert.Null(job.Remaining(100));
        clock.Advance(TimeSpan.FromSeconds(100));
        // 50 steps in 100 s since the resume at step 100: 2 s a step, 150 steps to go.
        Assert.Equal(TimeSpan.FromSeconds(300), job.Remaining(150));
    }

    [Fact]
    public void OnlyLoggedStepsReachTheOutputs()
    {
        var recorder = new StepRecorder();
        var logged = new LoggedSteps(10, recorder);

        logged.OnJobStarted(new JobStarted("r", 1, StartStep: 4, MaxSteps: 25, 1));
        for (var done = 5; done <= 25; done++) logged.OnStep(Reports.Step(done, 1.0));

        // The first step of this start, every 10th, and the last.
        Assert.Equal([5L, 10L, 20L, 25L], recorder.Steps);
    }

    [Theory]
    [InlineData(950, "950 tok/s")]
    [InlineData(12_345, "12.3k tok/s")]
    [InlineData(2_500_000, "2.50M tok/s")]
    public void ThroughputReadsInSensibleUnits(double rate, string text) => Assert.Equal(text, ProgressText.Rate(rate));

    [Fact]
    public void PlainProgressWritesOneTimestampedLinePerReport()
    {
        var output = new StringWriter();
        var clock = new ManualClock(new DateTimeOffset(2026, 1, 1, 9, 8, 7, TimeSpan.Zero));
        var progress = new LogLineProgress(output, clock);

        progress.OnJobStarted(new JobStarted("demo", 2, 0, 100, 1_000_000));
        clock.Advance(TimeSpan.FromSeconds(2.5));
        progress.OnStep(Reports.Step(10, 4.5));
        progress.OnEval(10, new HeldOutLosses(4.75, null));
        progress.OnCheckpoint(10, 0.5, 1.25);
        progress.OnJobFinished(new JobFinished(10, false, null, null));

        var lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("09:08:07 ", lines[0]);
        Assert.All(lines[1..], l => Assert.StartsWith("09:08:09 ", l));
        Assert.Contains("1,000,000 trainable parameters", lines[0]);
        Assert.Contains("step 10/100  loss 4.5000", lines[1]);
        Assert.Contains("world 2", lines[1]);
        Assert.Contains("eta 22s", lines[1]); // 2.5 s for 10 steps, 90 to go
        Assert.Contains("eval step 10  loss 4.7500", lines[2]);
        Assert.Contains("checkpoint step 10", lines[3]);
        Assert.Contains("stopped at step 10", lines[4]);
    }

    [Fact]
    public void AFailingOutputIsDroppedWithoutStoppingTheOthers()
    {
        var failures = new List<string>();
        var recorder = new StringWriter();
        var observers = new TrainingObservers([new ThrowingOutput(), new LogLineProgress(recorder)], failures.Add);

        observers.OnStep(Reports.Step(1, 1.0));
        observers.OnStep(Reports.Step(2, 1.0));

        Assert.Single(failures);
        Assert.Equal(2, recorder.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task TheLiveBarEndsAtTheLastStepWithEvalAndCheckpointLinesAboveIt()
    {
        var output = new StringWriter();
        var console = RecordingConsole.Create(output, interactive: true);

        var result = await TerminalProgress.RunAsync(console, observer =>
        {
            observer.OnJobStarted(new JobStarted("demo", 1, 0, 30, 1000));
            for (var step = 10; step <= 30; step += 10) observer.OnStep(Reports.Step(step, 4.0 - step / 10.0));
            observer.OnEval(30, new HeldOutLosses(1.5, null));
            observer.OnCheckpoint(30, 0.1, 0.2);
            observer.OnJobFinished(new JobFinished(30, true, null, null));
            return Task.FromResult(42);
        });

        var text = output.ToString();
        Assert.Equal(42, result);
        Assert.Contains("step 30/30  loss 1.0000", text);
        Assert.Contains("100%", text);
        Assert.Contains("eval step 30  loss 1.5000", text);
        Assert.Contains("checkpoint step 30", text);
        Assert.Contains("finished at step 30", text);
    }

    private sealed class StepRecorder : ITrainingObserver
    {
        public List<long> Steps { get; } = [];
        public void OnJobStarted(JobStarted info) { }
        public void OnStep(StepReport report) => Steps.Add(report.StepsDone);
        public void OnEval(long step, HeldOutLosses losses) { }
        public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) { }
        public void OnMessage(string message) { }
        public void OnJobFinished(JobFinished info) { }
    }

    private sealed class ThrowingOutput : ITrainingObserver
    {
        public void OnJobStarted(JobStarted info) { }
        public void OnStep(StepReport report) => throw new IOException("disk full");
        public void OnEval(long step, HeldOutLosses losses) { }
        public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) { }
        public void OnMessage(string message) { }
        public void OnJobFinished(JobFinished info) { }
    }
}
