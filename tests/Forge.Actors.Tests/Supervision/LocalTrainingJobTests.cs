using Forge.Model.Optim;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Tests.Ranks.Fakes;
using Forge.Actors.Training;
using Forge.Model.Config;

namespace Forge.Actors.Tests.Supervision;

/// <summary>Whole jobs in one process: the real supervisor and rank actors over fake engines and store.</summary>
public sealed class LocalTrainingJobTests
{
    private static readonly TimeSpan JobLimit = TimeSpan.FromSeconds(60);
    private readonly FakeEngineFactory _engines = new(numel: 10);
    private readonly FakeCheckpointStore _store = new();
    private readonly RecordingObserver _observer = new();

    private TrainingServices Services => new()
    {
        Engines = _engines,
        Backend = new FakeCollectiveBackend(),
        Store = _store,
        CudaDeviceCount = () => 0,
    };

    private static TrainingJobOptions Options(int ranks, long maxSteps, long interval, bool resume = false) => new()
    {
        Config = new JobConfig
        {
            RunName = "local-test",
            Train = new TrainConfig { MaxSteps = maxSteps },
            Checkpoint = new CheckpointConfig { Interval = interval },
            Distributed = new DistributedConfig { StepTimeoutSec = 20, FormTimeoutSec = 20 },
        },
        RunDirectory = "runs/local-test",
        Ranks = ranks,
        Resume = resume,
    };

    private Task<JobFinished> Run(TrainingJobOptions options, CancellationToken ct = default) =>
        LocalTrainingJob.RunAsync(options, _observer, Services, ct).WaitAsync(JobLimit);

    [Fact]
    public async Task AJobRunsEveryStepOnEveryRankCheckpointsAndReleasesTheEngines()
    {
        var finished = await Run(Options(ranks: 3, maxSteps: 6, interval: 2));

        Assert.True(finished.Completed, finished.Error);
        Assert.Equal(6, finished.FinalStep);
        Assert.Equal([0L, 1, 2, 3, 4, 5], _observer.Steps.Select(s => s.Step));
        Assert.All(_observer.Steps, s => Assert.Equal(3, s.WorldSize));
        Assert.Equal([2L, 4, 6], _store.Committed.Select(m => m.Step));
        Assert.All(_engines.Engines, e => Assert.Equal([0L, 1, 2, 3, 4, 5], e.StepsRun));
        Assert.All(_engines.Engines, e => Assert.True(e.Disposed));
        Assert.Equal(finished, Assert.Single(_observer.Finished));
    }

    [Fact]
    public async Task AFailedRankIsDroppedAndTheSurvivorsFinishFromTheLastCheckpoint()
    {
        _engines.Behaviour = (a, step) => a is { WorldEpoch: 1, Rank: 2 } && step == 3 ? StepBehaviour.Throw : StepBehaviour.Succeed;

        var finished = await Run(Options(ranks: 3, maxSteps: 6, interval: 2));

        Assert.True(finished.Completed, finished.Error);
        Assert.Equal([0L, 1, 2, 2, 3, 4, 5], _observer.Steps.Select(s => s.Step));
        Assert.Equal([3, 3, 3, 2, 2, 2, 2], _observer.Steps.Select(s => s.WorldSize));
        Assert.Equal([2L, 4, 6], _store.Committed.Select(m => m.Step));
        Assert.Equal(2, _store.Committed[^1].WorldSize);

        // Each survivor got exactly its slice of the step-2 state of a world of 3, resharded to 2.
        var reformed = _engines.Engines.Where(e => e.Assignment.WorldEpoch > 1).ToArray();
        Assert.Equal(2, reformed.Length);
        foreach (var engine in reformed)
        {
            var shard = engine.Restored!;
            Assert.Equal(2, shard.Step);
            Assert.Equal(ShardRange.For(10, engine.Rank, 2), new ShardRange(shard.Start, shard.Length));
            for (var i = 0; i < shard.Length; i++)
                Assert.Equal(FakeEngineFactory.MasterValue(shard.Start + i, 2), shard.Master[i]);
        }
    }

    [Fact]
    public async Task AOneRankJobSurvivesATransientStepFailureThroughAReplacementRank()
    {
        // The only rank fails once (a one-off native error, say): it is dropped, its slot gets a fresh
        // rank, and the job continues from the last checkpoint instead of waiting for ranks forever.
        _engines.Behaviour = (a, step) => a.WorldEpoch == 1 && step == 3 ? StepBehaviour.Throw : StepBehaviour.Succeed;

        var finished = await Run(Options(ranks: 1, maxSteps: 6, interval: 2));

        Assert.True(finished.Completed, finished.Error);
        Assert.Equal(6, finished.FinalStep);
        Assert.Equal([0L, 1, 2, 2, 3, 4, 5], _observer.Steps.Select(s => s.Step));
        Assert.Equal(2, _engines.Engines.Count);
        Assert.Equal(2, _engines.Engines.ToArray()[1].Restored!.Step);
        Assert.Contains(_observer.Messages, m => m.Contains("restart 1 of"));
    }

    [Fact]
    public async Task ARankThatCannotJoinTheFirstWorldIsDroppedAndTheOthersTrain()
    {
        _engines.FailsToBuild = a => a is { WorldEpoch: 1, Rank: 1 };

        var finished = await Run(Options(ranks: 3, maxSteps: 3, interval: 0));

        Assert.True(finished.Completed, finished.Error);
        Assert.All(_observer.Steps, s => Assert.Equal(2, s.WorldSize));
        Assert.Equal(2, Assert.Single(_observer.Started).WorldSize);
    }

    [Fact]
    public async Task ARankHungInACollectiveIsFreedByTheAbortWhenAPeerFails()
    {
        // Rank 1 throws; ranks 0 and 2 block in a collective, as they would on a real dead peer.
        _engines.Behaviour = (a, step) => (a.WorldEpoch, step) != (1, 1) ? StepBehaviour.Succeed
            : a.Rank == 1 ? StepBehaviour.Throw : StepBehaviour.HangInCollective;

        var finished = await Run(Options(ranks: 3, maxSteps: 3, interval: 1));

        Assert.True(finished.Completed, finished.Error);
        Assert.Equal(3, _observer.Steps.First().WorldSize);
        Assert.Equal((2L, 2), (_observer.Steps.Last().Step, _observer.Steps.Last().WorldSize));
        // Both hung ranks came back: they acknowledged the abort and joined the re-formed world.
        Assert.Equal(2, _engines.Engines.Count(e => e.Assignment.WorldEpoch > 1));
        Assert.DoesNotContain(_observer.Messages, m => m.Contains("no answer to the abort"));
    }

    [Fact]
    public async Task CancellingFinishesTheStepCommitsACheckpointAndReturnsAResumeHint()
    {
        using var cancel = new CancellationTokenSource();
        _observer.AfterStep = report => { if (report.Step == 2) cancel.Cancel(); };

        var finished = await Run(Options(ranks: 2, maxSteps: 1000, interval: 0), cancel.Token);

        Assert.False(finished.Completed);
        Assert.Null(finished.Error);
        var last = _store.Committed[^1];
        Assert.Equal(finished.FinalStep, last.Step);
        Assert.InRange(last.Step, 3, 4);                          // the step in flight when cancelled may finish
        Assert.Contains($"step {last.Step}", finished.ResumeHint);
    }

    [Fact]
    public async Task ResumingContinuesFromTheLatestCheckpointWithTheSavedState()
    {
        var first = await Run(Options(ranks: 2, maxSteps: 4, interval: 2));
        Assert.True(first.Completed);
        var firstEngines = _engines.Engines.Count;

        var resumed = await Run(Options(ranks: 3, maxSteps: 6, interval: 2, resume: true));

        Assert.True(resumed.Completed, resumed.Error);
        Assert.Equal(4, _observer.Started.Last().StartStep);
        var engines = _engines.Engines.Skip(firstEngines).ToArray();
        Assert.All(engines, e => Assert.Equal([4L, 5], e.StepsRun));
        Assert.All(engines, e => Assert.Equal(4, e.Restored!.Step));
    }

    [Fact]
    public async Task ResumingARunWithoutACheckpointFailsNamingTheRun()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Run(Options(ranks: 1, maxSteps: 4, interval: 2, resume: true)));
        Assert.Contains("local-test", error.Message);
    }

    [Fact]
    public async Task ASingleProcessJobRejectsMoreMinRanksThanLocalRanks()
    {
        var options = Options(ranks: 2, maxSteps: 4, interval: 2);
        options = options with { Config = options.Config with { Elastic = new ElasticConfig { MinRanks = 3 } } };
        var error = await Assert.ThrowsAsync<ArgumentException>(() => Run(options));
        Assert.Contains("elastic.min_ranks=3", error.Message);
    }

    [Theory]
    [InlineData(0, 0, new[] { -1 })]
    [InlineData(3, 0, new[] { -1, -1, -1 })]
    [InlineData(0, 2, new[] { 0, 1 })]
    [InlineData(1, 4, new[] { 0 })]
    public void LocalDevicesAreOneRankPerGpuOrTheRequestedCpuRanks(int requested, int gpus, int[] expected) =>
        Assert.Equal(expected, LocalTrainingJob.LocalDevices(requested, () => gpus));
}
