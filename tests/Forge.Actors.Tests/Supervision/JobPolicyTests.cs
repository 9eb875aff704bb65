using Forge.Actors.Checkpointing;
using Forge.Actors.Supervision;
using Forge.Model.Optim;

namespace Forge.Actors.Tests.Supervision;

public sealed class JobPolicyTests
{
    private static JobPolicy Policy(long maxSteps = 100, long interval = 10, int min = 1, int max = 0, int expected = 0, int restarts = 3,
        int globalBatch = 32, int batch = 16, int badSteps = 5) => new(new JobSupervisorSettings
    {
        JobId = "job", MaxSteps = maxSteps, CheckpointInterval = interval, MinRanks = min, MaxRanks = max, ExpectedRanks = expected,
        MaxRestarts = restarts, GlobalBatchSize = globalBatch, BatchSize = batch, MaxBadSteps = badSteps,
        FormationSettle = TimeSpan.FromSeconds(3),
    });

    [Theory]
    [InlineData(20L, 10L, false, false, false, NextMove.Checkpoint)]
    [InlineData(21L, 10L, false, false, false, NextMove.RunStep)]
    [InlineData(20L, 10L, false, true, false, NextMove.DeferCheckpoint)]
    [InlineData(21L, 10L, false, false, true, NextMove.Checkpoint)]      // a deferred checkpoint, taken once the previous committed
    [InlineData(21L, 10L, false, true, true, NextMove.DeferCheckpoint)]
    [InlineData(100L, 90L, false, false, false, NextMove.FinalCheckpoint)]
    [InlineData(100L, 90L, false, true, false, NextMove.AwaitCheckpoint)]
    [InlineData(100L, 100L, false, false, false, NextMove.Finish)]       // nothing new since the last commit
    [InlineData(37L, 30L, true, false, false, NextMove.FinalCheckpoint)] // a stop request
    [InlineData(30L, 30L, true, false, false, NextMove.Finish)]
    [InlineData(30L, 30L, true, true, false, NextMove.AwaitCheckpoint)]
    public void AfterAStepThePolicyCheckpointsDefersFinishesOrRunsOn(long done, long committed, bool stop, bool inFlight, bool deferred, NextMove expected) =>
        Assert.Equal(expected, Policy().AfterStep(done, committed, stop, inFlight, deferred));

    [Theory]
    [InlineData(1, 4L, false, false, ReplicaMove.Copy)]
    [InlineData(1, 0L, false, false, ReplicaMove.None)]    // nothing trained yet: nothing to copy
    [InlineData(1, 4L, true, false, ReplicaMove.Defer)]    // the previous round is on its way: run on, never wait
    [InlineData(3, 4L, false, false, ReplicaMove.None)]
    [InlineData(3, 6L, false, false, ReplicaMove.Copy)]
    [InlineData(3, 5L, false, true, ReplicaMove.Copy)]     // a deferred copy, taken at the first step after the round ended
    [InlineData(3, 5L, true, true, ReplicaMove.Defer)]
    [InlineData(0, 6L, false, true, ReplicaMove.None)]     // elastic.replica_interval = 0 turns copies off
    public void BeforeAStepThePolicyCopiesDefersOrDoesNothingAndNeverHoldsTheStep(int interval, long done, bool inFlight, bool deferred, ReplicaMove expected)
    {
        var policy = new JobPolicy(new JobSupervisorSettings { JobId = "job", MaxSteps = 100, ReplicaInterval = interval });
        Assert.Equal(expected, policy.Replica(done, inFlight, deferred));
    }

    [Theory]
    [InlineData(0.02, 13.0, 0.26, ReplicaMove.Copy)]     // 0.26 s of capture in 13 s is exactly 2%
    [InlineData(0.02, 5.0, 0.26, ReplicaMove.Defer)]     // one GPU's 13.2 GB shard, 5 s after the last round began: 5.2%
    [InlineData(0.02, 5.0, 0.0, ReplicaMove.Copy)]       // no round yet: nothing measured
    [InlineData(0.0, 0.2, 0.26, ReplicaMove.Copy)]       // 0 = no bound
    [InlineData(0.02, 0.2, 0.001, ReplicaMove.Copy)]     // a CPU shard of 12 MB: 1 ms a 0.2 s step is 0.5%
    public void ACopyIsDeferredWhileCapturesWouldTakeMoreThanTheOverheadBudget(double budget, double sinceLastRound, double lastCapture, ReplicaMove expected)
    {
        var policy = new JobPolicy(new JobSupervisorSettings { JobId = "job", MaxSteps = 100, ReplicaInterval = 1, ReplicaMaxOverhead = budget });
        Assert.Equal(expected, policy.Replica(10, roundInFlight: false, deferred: false, TimeSpan.FromSeconds(sinceLastRound), TimeSpan.FromSeconds(lastCapture)));
    }

    [Fact]
    public void ALaunchWaitsForEveryLaunchedRankAndAReformationGoesOnWithMinRanks()
    {
        var policy = Policy(min: 1, expected: 3);

        Assert.Equal(FormingMove.Wait, policy.Forming(available: 2, firstWorld: true));
        Assert.Equal(FormingMove.Form, policy.Forming(available: 3, firstWorld: true));
        Assert.Equal(FormingMove.Form, policy.Forming(available: 1, firstWorld: false));
    }

    [Fact]
    public void AClusterLaunchSettlesForMoreRanksAboveMinAndFormsAtMax()
    {
        var policy = Policy(min: 2, max: 4);

        Assert.Equal(FormingMove.Wait, policy.Forming(1, firstWorld: true));
        Assert.Equal(FormingMove.Settle, policy.Forming(2, firstWorld: true));
        Assert.Equal(FormingMove.Form, policy.Forming(4, firstWorld: true));
        Assert.Equal(4, policy.WorldSize(6));
        Assert.Equal(3, Policy(min: 1).WorldSize(3));
    }

    [Fact]
    public void TheGlobalBatchIsTheConfiguredOneElseTheResumedOneElseBatchSizeTimesTheFirstWorld()
    {
        var resumed = new CheckpointManifest
        {
            JobId = "job", Step = 5, WorldSize = 3, Layout = new FlatLayoutInfo([], 0, 0), Shards = [], DataEpoch = 0, DataPosition = 0,
            SamplesConsumed = 0, RngSeed = 0, SchedulerStep = 5, FrozenParameters = [], ModelConfigHash = "", GlobalBatchSize = 48,
        };

        Assert.Equal(32, Policy(globalBatch: 32).GlobalBatchSize(resumed, firstWorldSize: 2));
        Assert.Equal(48, Policy(globalBatch: 0).GlobalBatchSize(resumed, firstWorldSize: 2));
        Assert.Equal(32, Policy(globalBatch: 0, batch: 16).GlobalBatchSize(null, firstWorldSize: 2));
        Assert.Equal(16, Policy(globalBatch: 0, batch: 16).GlobalBatchSize(resumed with { GlobalBatchSize = 0 }, firstWorldSize: 1));
    }

    [Fact]
    public void RestartsAndBadStepsGiveUpOnlyPastTheirLimits()
    {
        var policy = Policy(restarts: 3, badSteps: 5);

        Assert.False(policy.GivesUpAfter(3));
        Assert.True(policy.GivesUpAfter(4));
        Assert.False(policy.TooManyBadSteps(4));
        Assert.True(policy.TooManyBadSteps(5));
    }

    [Fact]
    public void ACommitScalesUpOnlyWhenRanksWaitBelowMaxAndNoStopIsRequested()
    {
        Assert.True(Policy(max: 0).ScalesUp(available: 3, worldSize: 2, stopRequested: false));
        Assert.False(Policy(max: 2).ScalesUp(available: 3, worldSize: 2, stopRequested: false));
        Assert.False(Policy(max: 0).ScalesUp(available: 3, worldSize: 2, stopRequested: true));
        Assert.False(Policy(max: 0).ScalesUp(available: 2, worldSize: 2, stopRequested: false));
    }
}
