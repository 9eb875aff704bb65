using Akka.Actor;
using Akka.TestKit;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Supervision;
using Forge.Actors.Tests.Ranks.Fakes;
using Forge.Actors.Training;
using Forge.Model.Evaluation;
using Xunit.Abstractions;

namespace Forge.Actors.Tests.Supervision;

public sealed class JobSupervisorTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(output: output)
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);
    private readonly FakeCheckpointStore _store = new() { RequireSavedShards = false };
    private readonly RecordingObserver _observer = new();

    private static JobSupervisorSettings Settings(int min = 1, int max = 0, long maxSteps = 10, long interval = 0, int maxRestarts = 5) => new()
    {
        JobId = "job",
        MaxSteps = maxSteps,
        CheckpointInterval = interval,
        MinRanks = min,
        MaxRanks = max,
        MaxRestarts = maxRestarts,
        FormTimeout = TimeSpan.FromSeconds(5),
        StepTimeout = TimeSpan.FromSeconds(5),
        FormationSettle = TimeSpan.FromMilliseconds(200),
        AbortTimeout = TimeSpan.FromMilliseconds(500),
        ShutdownTimeout = TimeSpan.FromSeconds(5),
    };

    private (IActorRef Supervisor, ProbeRanks Ranks) Start(JobSupervisorSettings settings)
    {
        var supervisor = Sys.ActorOf(JobSupervisor.Props(settings, _store, _observer));
        return (supervisor, new ProbeRanks(this, supervisor));
    }

    [Theory]
    [InlineData("other-job", "", "trains job 'other-job' but this job is 'job'")]
    [InlineData("job", "sha256:different", "config differs from this job's")]
    public void ARankConfiguredForAnotherJobOrModelIsRefusedWithTheReason(string jobId, string hash, string expected)
    {
        var (_, ranks) = Start(Settings() with { ModelConfigHash = "sha256:this" });
        var stranger = CreateTestProbe();

        ranks.Say(stranger, new RegisterRank("node-b", 0, jobId, hash));

        var leave = stranger.ExpectMsg<LeaveJob>();
        Assert.Contains(expected, leave.Reason);
        Assert.False(leave.MayRejoin);
        Assert.Contains(_observer.Messages, m => m.Contains("refused") && m.Contains(expected));
        // A rank with the right config still forms the job.
        var good = ranks.Register();
        ranks.Form(good);
    }

    [Fact]
    public void ASqliteJobRefusesRanksFromOtherMachinesAndTakesItsOwn()
    {
        var (_, ranks) = Start(Settings() with { StoreIsMachineLocal = true, Machine = "gpu-a" });
        var remote = CreateTestProbe();

        ranks.Say(remote, new RegisterRank("gpu-b", 0, "job"));

        Assert.Contains("postgresql", remote.ExpectMsg<LeaveJob>().Reason);
        var local = ranks.Register(node: "GPU-A");   // machine names compare without case
        ranks.Form(local);
    }

    [Fact]
    public void ASharedStoreTakesRanksFromAnyMachine()
    {
        var (_, ranks) = Start(Settings() with { StoreIsMachineLocal = false, Machine = "gpu-a" });
        var remote = ranks.Register(node: "gpu-b");
        ranks.Form(remote);
    }

    [Fact]
    public void FormingWaitsForTheMinimumNumberOfRanks()
    {
        var (_, ranks) = Start(Settings(min: 2, max: 3));
        var first = ranks.Register();
        first.ExpectNoMsg(TimeSpan.FromMilliseconds(600));   // well past the settle window: one rank is not enough

        var second = ranks.Register();
        var (_, joins) = ranks.Form(first, second);

        Assert.All(joins, j => Assert.Equal(2, j.Assignment.WorldSize));
        AwaitAssert(() => Assert.Equal(2, Assert.Single(_observer.Started).WorldSize));
    }

    [Fact]
    public void FormingStartsAtOnceWhenMaxRanksRegistered()
    {
        var (_, ranks) = Start(Settings(min: 1, max: 2) with { FormationSettle = TimeSpan.FromMinutes(1) });
        var first = ranks.Register();
        var second = ranks.Register();
        var (_, joins) = ranks.Form(first, second);
        Assert.Equal([0, 1], joins.Select(j => j.Assignment.Rank));
    }

    [Fact]
    public void FormingGivesUpAfterTheFormTimeout()
    {
        var (supervisor, ranks) = Start(Settings(min: 2) with { FormTimeout = TimeSpan.FromMilliseconds(400) });
        supervisor.Tell(AwaitJobFinished.Instance);
        var rank = ranks.Register();
        rank.ExpectMsg<LeaveJob>(TimeSpan.FromSeconds(3));
        Sys.Stop(rank.Ref);
        var finished = ExpectMsg<JobFinished>(TimeSpan.FromSeconds(5));
        Assert.False(finished.Completed);
        Assert.Contains("min_ranks=2", finished.Error);
    }

    [Fact]
    public void EveryRankOfAWorldReceivesTheGroupIdMadeByRank0()
    {
        var (_, ranks) = Start(Settings(max: 3));
        var world = new[] { ranks.Register(), ranks.Register(), ranks.Register() };
        var (_, joins) = ranks.Form(world);
        Assert.All(joins, j => Assert.Equal(new byte[] { 1, 2, 3 }, j.Assignment.GroupId));
    }

    [Fact]
    public void ARankWithADifferentModelLayoutIsDroppedBeforeTraining()
    {
        var (_, ranks) = Start(Settings(max: 2));
        var good = ranks.Register();
        var odd = ranks.Register();
        var create = good.ExpectMsg<CreateGroup>();
        ranks.Say(good, new GroupCreated(create.WorldEpoch, [1]));
        good.ExpectMsg<JoinWorld>();
        odd.ExpectMsg<JoinWorld>();
        ranks.Say(good, new WorldJoined(create.WorldEpoch, 0, ProbeRanks.Layout));
        ranks.Say(odd, new WorldJoined(create.WorldEpoch, 1, ProbeRanks.Layout with { Numel = 11 }));

        odd.ExpectMsg<LeaveJob>();
        good.ExpectMsg<AbortStep>();
        ranks.Say(good, new StepAborted(create.WorldEpoch, 0));
        ranks.Form(good);
        Assert.Contains(_observer.Messages, m => m.Contains("different model config"));
    }

    [Fact]
    public void TheBarrierWaitsForTheSlowestRank()
    {
        var (_, ranks) = Start(Settings(max: 2));
        var fast = ranks.Register();
        var slow = ranks.Register();
        var (epoch, _) = ranks.Form(fast, slow);

        ProbeRanks.ExpectRunStep(fast, 0);
        ProbeRanks.ExpectRunStep(slow, 0);
        ranks.ReportStep(fast, epoch, 0, 0);
        fast.ExpectNoMsg(Quiet);                 // rank 1 has not reported: no step 1 for anyone
        slow.ExpectNoMsg(TimeSpan.Zero);

        ranks.ReportStep(slow, epoch, 1, 0);
        ProbeRanks.ExpectRunStep(fast, 1);
        ProbeRanks.ExpectRunStep(slow, 1);
    }

    [Fact]
    public void RanksThatShareAStepRelayGetEachStepOnceThroughItAndOneAnswerForAllPassesTheBarrier()
    {
        var (supervisor, ranks) = Start(Settings(max: 3, interval: 2));
        var world = new[] { ranks.Register(), ranks.Register(), ranks.Register() };
        var relay = CreateTestProbe();   // the process of ranks 0 and 1; rank 2 takes its steps itself
        var create = world[0].ExpectMsg<CreateGroup>();
        ranks.Say(world[0], new GroupCreated(create.WorldEpoch, [1]));
        var epoch = create.WorldEpoch;
        for (var r = 0; r < 3; r++)
        {
            world[r].ExpectMsg<JoinWorld>();
            ranks.Say(world[r], new WorldJoined(epoch, r, ProbeRanks.Layout, Relay: r < 2 ? relay.Ref : null));
        }

        ProbeRanks.ExpectRunStep(relay, 0);
        ProbeRanks.ExpectRunStep(world[2], 0);
        relay.Send(supervisor, new StepsDone(epoch, 0, [new StepDone(epoch, 1, ProbeRanks.Result(0, 1))]));
        ranks.ReportStep(world[2], epoch, 2, 0);
        relay.ExpectNoMsg(Quiet);                // rank 0 is still out
        relay.Send(supervisor, new StepsDone(epoch, 0, [new StepDone(epoch, 0, ProbeRanks.Result(0, 0))]));
        ProbeRanks.ExpectRunStep(relay, 1);
        ProbeRanks.ExpectRunStep(world[2], 1);
        relay.Send(supervisor, new StepsDone(epoch, 1, [new StepDone(epoch, 0, ProbeRanks.Result(1, 0)), new StepDone(epoch, 1, ProbeRanks.Result(1, 1))]));
        ranks.ReportStep(world[2], epoch, 2, 1);

        // The checkpoint after step 2 goes the same way: once to the relay, once to rank 2; no rank gets one itself.
        Assert.Equal(2, relay.ExpectMsg<SaveShard>().Step);
        Assert.Equal(2, world[2].ExpectMsg<SaveShard>().Step);
        ProbeRanks.ExpectRunStep(relay, 2);
        foreach (var rank in world[..2]) rank.ExpectNoMsg(TimeSpan.Zero);
        Assert.Equal(2, _observer.Steps.Count);
        Assert.All(_observer.Steps, s => Assert.Equal(3, s.WorldSize));
    }

    [Fact]
    public void AStepReportCountsTheWorldTokensOnceAndShowsTheSlowestRank()
    {
        var (_, ranks) = Start(Settings(max: 2));
        var world = new[] { ranks.Register(), ranks.Register() };
        var (epoch, _) = ranks.Form(world);
        ranks.RunStep(epoch, 0, world);
        ProbeRanks.ExpectRunStep(world[0], 1);

        var report = Assert.Single(_observer.Steps);
        Assert.Equal(100, report.Tokens);                  // the global batch's tokens, not 100 per rank
        Assert.Equal(2, report.WorldSize);
        Assert.Equal(0.04, report.SlowestRank.Total, 6);   // rank 1 is the slower one
    }

    [Fact]
    public void AnEvalStepReportsItsHeldOutLossNumberedInStepsDone()
    {
        var (_, ranks) = Start(Settings(max: 2));
        var world = new[] { ranks.Register(), ranks.Register() };
        var (epoch, _) = ranks.Form(world);
        ranks.RunStep(epoch, 0, world);
        foreach (var probe in world) ProbeRanks.ExpectRunStep(probe, 1);
        for (var rank = 0; rank < world.Length; rank++)
            ranks.Say(world[rank], new StepDone(epoch, rank, ProbeRanks.Result(1, rank) with { WorldEvalLoss = new HeldOutLosses(1.25, null) }));
        ProbeRanks.ExpectRunStep(world[0], 2);

        Assert.Equal(2, _observer.Steps.Count);
        Assert.Equal((2L, 1.25), Assert.Single(_observer.Evals));   // step 0 carried none; step 1 is 2 steps done
    }

    [Fact]
    public void ARankThatReportsAnErrorIsDroppedAndTheWorldReformsWithoutIt()
    {
        var (_, ranks) = Start(Settings(max: 2));
        var survivor = ranks.Register();
        var failing = ranks.Register();
        var (epoch, _) = ranks.Form(survivor, failing);
        ProbeRanks.ExpectRunStep(survivor, 0);
        ProbeRanks.ExpectRunStep(failing, 0);

        ranks.Say(failing, new StepFailed(epoch, 1, 0, "engine exploded", PeerFailure: false));

        failing.ExpectMsg<LeaveJob>();
        var abort = survivor.ExpectMsg<AbortStep>();
        Assert.Equal(epoch, abort.WorldEpoch);
        ranks.Say(survivor, new StepAborted(epoch, 0));
        var (newEpoch, joins) = ranks.Form(survivor);
        Assert.True(newEpoch > epoch);
        Assert.Equal(1, Assert.Single(joins).Assignment.WorldSize);
        ProbeRanks.ExpectRunStep(survivor, 0);
    }

    [Fact]
    public void ARankSilentPastTheStepTimeoutIsDropped()
    {
        var (_, ranks) = Start(Settings(max: 2) with { StepTimeout = TimeSpan.FromMilliseconds(400) });
        var alive = ranks.Register();
        var silent = ranks.Register();
        var (epoch, _) = ranks.Form(alive, silent);
        ProbeRanks.ExpectRunStep(alive, 0);
        ProbeRanks.ExpectRunStep(silent, 0);
        ranks.ReportStep(alive, epoch, 0, 0);

        silent.ExpectMsg<LeaveJob>(TimeSpan.FromSeconds(3));
        alive.ExpectMsg<AbortStep>();
        ranks.Say(alive, new StepAborted(epoch, 0));
        ranks.Form(alive);
        Assert.Contains(_observer.Messages, m => m.Contains("step_timeout_sec"));
    }

    [Fact]
    public void APeerFailureBlamesOnlyRanksThatDoNotAcknowledgeTheAbort()
    {
        var (_, ranks) = Start(Settings(max: 2));
        var reporter = ranks.Register();
        var dead = ranks.Register();
        var (epoch, _) = ranks.Form(reporter, dead);
        ProbeRanks.ExpectRunStep(reporter, 0);
        ProbeRanks.ExpectRunStep(dead, 0);

        ranks.Say(reporter, new StepFailed(epoch, 0, 0, "connection reset by peer", PeerFailure: true));
        reporter.ExpectMsg<AbortStep>();
        ranks.Say(reporter, new StepAborted(epoch, 0));
        dead.ExpectMsg<AbortStep>();                             // never acknowledged

        dead.ExpectMsg<LeaveJob>(TimeSpan.FromSeconds(3));
        var (_, joins) = ranks.Form(reporter);
        Assert.Equal(1, Assert.Single(joins).Assignment.WorldSize);
    }

    [Fact]
    public void ARankActorThatDiesMovesTheJobToRecovery()
    {
        var (_, ranks) = Start(Settings(max: 2));
        var survivor = ranks.Register();
        var dying = ranks.Register();
        var (epoch, _) = ranks.Form(survivor, dying);
        ProbeRanks.ExpectRunStep(survivor, 0);

        Sys.Stop(dying.Ref);

        survivor.ExpectMsg<AbortStep>();
        ranks.Say(survivor, new StepAborted(epoch, 0));
        ranks.Form(survivor);
    }

    [Fact]
    public void ARepeatedRegistrationCountsOnceAndADroppedRankThatRegistersAgainIsFormedIntoALaterWorld()
    {
        var (_, ranks) = Start(Settings(max: 2) with { ExpectedRanks = 2 });
        var dropped = ranks.Register();
        // A registration retry that crossed the first answer: still one rank, so the first world keeps waiting.
        ranks.Say(dropped, new RegisterRank("test", -1));
        dropped.ExpectMsg<RankRegistered>();
        dropped.ExpectNoMsg(Quiet);
        var survivor = ranks.Register();
        var (epoch, _) = ranks.Form(dropped, survivor);
        ProbeRanks.ExpectRunStep(dropped, 0);
        ProbeRanks.ExpectRunStep(survivor, 0);

        ranks.Say(dropped, new StepFailed(epoch, 0, 0, "boom", false));
        Assert.True(dropped.ExpectMsg<LeaveJob>().MayRejoin);
        var abort = survivor.ExpectMsg<AbortStep>();
        ranks.Say(survivor, new StepAborted(abort.WorldEpoch, 1));
        ranks.Form(survivor);
        ProbeRanks.ExpectRunStep(survivor, 0);

        // Back in the pool after its drop: once the survivor dies, the next world is the returning rank alone.
        ranks.RegisterAgain(dropped);
        Sys.Stop(survivor.Ref);
        ranks.Form(dropped);
        dropped.ExpectMsg<RunStep>();
    }

    [Fact]
    public void ACheckpointFoundDamagedWhileRejoiningIsReplacedByThePreviousOneAndNoRankIsDropped()
    {
        var (_, ranks) = Start(Settings(max: 2, interval: 1));
        var world = new[] { ranks.Register(), ranks.Register() };
        var (epoch, _) = ranks.Form(world);
        for (var step = 0; step < 2; step++)
        {
            ranks.RunStep(epoch, step, world);
            for (var r = 0; r < 2; r++)
            {
                world[r].ExpectMsg<SaveShard>();
                ranks.Say(world[r], ProbeRanks.Saved(epoch, step + 1, r));
            }
            // Committed before the next barrier, so the next checkpoint is not deferred.
            AwaitAssert(() => Assert.Contains(step + 1L, _store.Committed.Select(m => m.Step)));
        }
        AwaitAssert(() => Assert.Equal([1L, 2], _store.Committed.Select(m => m.Step)));
        ProbeRanks.ExpectRunStep(world[0], 2);
        ProbeRanks.ExpectRunStep(world[1], 2);
        ranks.Say(world[1], new StepFailed(epoch, 1, 2, "connection reset", PeerFailure: true));
        foreach (var rank in world)
        {
            rank.ExpectMsg<AbortStep>();
            ranks.Say(rank, new StepAborted(epoch, Array.IndexOf(world, rank)));
        }

        // The re-formed world restores step 2; rank 1 finds a chunk of it damaged.
        var create = world[0].ExpectMsg<CreateGroup>();
        ranks.Say(world[0], new GroupCreated(create.WorldEpoch, [7]));
        var joins = world.Select(p => p.ExpectMsg<JoinWorld>()).ToArray();
        Assert.All(joins, j => Assert.Equal(2, j.RestoreFrom!.Step));
        ranks.Say(world[0], new WorldJoined(create.WorldEpoch, 0, ProbeRanks.Layout));
        ranks.Say(world[1], new JoinFailed(create.WorldEpoch, 1, "CheckpointCorruptException: rank 0 chunk 0 fails its checksum", CorruptCheckpointStep: 2));
        foreach (var rank in world)
        {
            rank.ExpectMsg<AbortStep>();
            ranks.Say(rank, new StepAborted(create.WorldEpoch, Array.IndexOf(world, rank)));
        }

        // Both ranks stay; the next world restores step 1 and runs step 1 again.
        var (_, rejoins) = ranks.Form(world);
        Assert.All(rejoins, j => Assert.Equal(1, j.RestoreFrom!.Step));
        Assert.Equal(2, rejoins[0].Assignment.WorldSize);
        ProbeRanks.ExpectRunStep(world[0], 1);
        Assert.Contains(_observer.Messages, m => m.Contains("step 2 is damaged: falling back to the checkpoint at step 1"));
        // Each formation that restores says so before the (possibly long) read.
        Assert.Contains(_observer.Messages, m => m.Contains("2 rank(s) restoring the checkpoint at step 2"));
        Assert.Contains(_observer.Messages, m => m.Contains("2 rank(s) restoring the checkpoint at step 1"));
    }

    [Fact]
    public void TheManifestIsCommittedOnlyAfterEveryShardReceipt()
    {
        var (_, ranks) = Start(Settings(max: 2, interval: 1));
        var world = new[] { ranks.Register(), ranks.Register() };
        var (epoch, _) = ranks.Form(world);
        ranks.RunStep(epoch, 0, world);

        Assert.Equal(1, world[0].ExpectMsg<SaveShard>().Step);
        Assert.Equal(1, world[1].ExpectMsg<SaveShard>().Step);
        ProbeRanks.ExpectRunStep(world[0], 1);                   // training continues while shards are written
        ProbeRanks.ExpectRunStep(world[1], 1);

        ranks.Say(world[0], ProbeRanks.Saved(epoch, 1, 0));
        world[0].ExpectNoMsg(Quiet);
        Assert.Empty(_store.Committed);

        ranks.Say(world[1], ProbeRanks.Saved(epoch, 1, 1));
        AwaitAssert(() => Assert.Single(_store.Committed));
        var manifest = _store.Committed[0];
        Assert.Equal(1, manifest.Step);
        Assert.Equal(2, manifest.WorldSize);
        Assert.Equal([0, 1], manifest.Shards.Select(s => s.Rank));
        Assert.Equal(ProbeRanks.Layout, manifest.Layout);
    }

    [Fact]
    public void ARankThatCannotReadTheJobTokenFromItsStoreIsRefusedWithBothStoresNamed()
    {
        var (_, ranks) = Start(Settings());
        var elsewhere = CreateTestProbe();
        var registration = new RegisterRank("test", -1);

        ranks.Say(elsewhere, registration);
        var prove = elsewhere.ExpectMsg<ProveStore>();
        ranks.Say(elsewhere, new StoreProof(registration, Token: null, "SQLite file /elsewhere/runs/job/checkpoints.db"));

        var leave = elsewhere.ExpectMsg<LeaveJob>();
        Assert.True(leave.Refused);
        Assert.Contains(prove.StoreLocation, leave.Reason);
        Assert.Contains("/elsewhere/runs/job/checkpoints.db", leave.Reason);
        // Nothing of it reached the pool: a rank of the job's own store forms the world alone.
        var good = ranks.Register();
        var (_, joins) = ranks.Form(good);
        Assert.Equal(1, joins[0].Assignment.WorldSize);
    }

    [Fact]
    public void AManifestWhoseChunksAreNotInTheJobsStoreIsNeverCommitted()
    {
        var store = new FakeCheckpointStore { RequireSavedShards = true };
        var supervisor = Sys.ActorOf(JobSupervisor.Props(Settings(max: 1, interval: 1), store, _observer));
        var ranks = new ProbeRanks(this, supervisor);
        var rank = ranks.Register();
        var (epoch, _) = ranks.Form(rank);
        ranks.RunStep(epoch, 0, rank);
        rank.ExpectMsg<SaveShard>();

        // The receipt arrives, but the shard went to some other store.
        ranks.Say(rank, ProbeRanks.Saved(epoch, 1, 0));

        AwaitAssert(() => Assert.Contains(_observer.Messages, m => m.Contains("checkpoint at step 1 abandoned") && m.Contains("not in the fake store")));
        Assert.Empty(store.Committed);
    }

    [Fact]
    public void AFailedShardSaveAbandonsTheCheckpointAndTrainingGoesOn()
    {
        var (_, ranks) = Start(Settings(max: 2, interval: 1));
        var world = new[] { ranks.Register(), ranks.Register() };
        var (epoch, _) = ranks.Form(world);
        ranks.RunStep(epoch, 0, world);
        world[0].ExpectMsg<SaveShard>();
        world[1].ExpectMsg<SaveShard>();
        ranks.Say(world[0], ProbeRanks.Saved(epoch, 1, 0));
        ranks.Say(world[1], new ShardSaveFailed(epoch, 1, 1, "disk full"));

        ranks.RunStep(epoch, 1, world);
        Assert.Equal(2, world[0].ExpectMsg<SaveShard>().Step);   // the next checkpoint is attempted
        Assert.Empty(_store.Committed);
        Assert.Contains(_observer.Messages, m => m.Contains("disk full"));
    }

    [Fact]
    public void AfterRecoveryTrainingContinuesFromTheLastCommittedCheckpoint()
    {
        var (_, ranks) = Start(Settings(max: 2, interval: 2));
        var survivor = ranks.Register();
        var failing = ranks.Register();
        var (epoch, _) = ranks.Form(survivor, failing);
        ranks.RunStep(epoch, 0, survivor, failing);
        ranks.RunStep(epoch, 1, survivor, failing);
        survivor.ExpectMsg<SaveShard>();
        failing.ExpectMsg<SaveShard>();
        ranks.Say(survivor, ProbeRanks.Saved(epoch, 2, 0));
        ranks.Say(failing, ProbeRanks.Saved(epoch, 2, 1));
        ranks.RunStep(epoch, 2, survivor, failing);
        ProbeRanks.ExpectRunStep(survivor, 3);
        ProbeRanks.ExpectRunStep(failing, 3);

        ranks.Say(failing, new StepFailed(epoch, 1, 3, "boom", false));
        survivor.ExpectMsg<AbortStep>();
        ranks.Say(survivor, new StepAborted(epoch, 0));
        var (newEpoch, joins) = ranks.Form(survivor);

        var restore = Assert.Single(joins).RestoreFrom;
        Assert.NotNull(restore);
        Assert.Equal(2, restore.Step);
        var run = ProbeRanks.ExpectRunStep(survivor, 2);         // steps 2.. are run again by the new world
        Assert.Equal(newEpoch, run.WorldEpoch);
    }

    [Fact]
    public void ReportsFromAnAbortedWorldAreIgnored()
    {
        var (_, ranks) = Start(Settings(max: 2));
        var survivor = ranks.Register();
        var failing = ranks.Register();
        var (epoch, _) = ranks.Form(survivor, failing);
        ProbeRanks.ExpectRunStep(survivor, 0);
        ranks.Say(failing, new StepFailed(epoch, 1, 0, "boom", false));
        survivor.ExpectMsg<AbortStep>();
        ranks.Say(survivor, new StepAborted(epoch, 0));
        var (newEpoch, _) = ranks.Form(survivor);
        ProbeRanks.ExpectRunStep(survivor, 0);

        ranks.Say(survivor, new StepDone(epoch, 0, ProbeRanks.Result(0, 0)));   // late, from the old world
        survivor.ExpectNoMsg(Quiet);
        Assert.Empty(_observer.Steps);

        ranks.ReportStep(survivor, newEpoch, 0, 0);
        ProbeRanks.ExpectRunStep(survivor, 1);
    }

    [Fact]
    public void TheJobGivesUpAfterMaxRestarts()
    {
        var (supervisor, ranks) = Start(Settings(max: 1, maxRestarts: 1));
        supervisor.Tell(AwaitJobFinished.Instance);
        var rank = ranks.Register();
        var (epoch, _) = ranks.Form(rank);
        ProbeRanks.ExpectRunStep(rank, 0);
        ranks.Say(rank, new StepFailed(epoch, 0, 0, "collective timeout", PeerFailure: true));
        rank.ExpectMsg<AbortStep>();
        ranks.Say(rank, new StepAborted(epoch, 0));
        var (epoch2, _) = ranks.Form(rank);
        ProbeRanks.ExpectRunStep(rank, 0);
        ranks.Say(rank, new StepFailed(epoch2, 0, 0, "collective timeout", PeerFailure: true));

        rank.ExpectMsg<LeaveJob>();
        Sys.Stop(rank.Ref);
        var finished = ExpectMsg<JobFinished>();
        Assert.False(finished.Completed);
        Assert.Contains("max_restarts=1", finished.Error);
    }

    [Fact]
    public void DoneCheckpointsAtTheEndStopsEveryRankAndThenReports()
    {
        var (supervisor, ranks) = Start(Settings(max: 2, maxSteps: 2));
        Watch(supervisor);
        supervisor.Tell(AwaitJobFinished.Instance);
        var world = new[] { ranks.Register(), ranks.Register() };
        var (epoch, _) = ranks.Form(world);
        ranks.RunStep(epoch, 0, world);
        ranks.RunStep(epoch, 1, world);
        Assert.Equal(2, world[0].ExpectMsg<SaveShard>().Step);
        Assert.Equal(2, world[1].ExpectMsg<SaveShard>().Step);
        ranks.Say(world[0], ProbeRanks.Saved(epoch, 2, 0));
        ranks.Say(world[1], ProbeRanks.Saved(epoch, 2, 1));

        world[0].ExpectMsg<LeaveJob>();
        world[1].ExpectMsg<LeaveJob>();
        ExpectNoMsg(Quiet);                                        // not before the ranks have stopped
        Sys.Stop(world[0].Ref);
        Sys.Stop(world[1].Ref);

        var finished = ExpectMsg<JobFinished>();
        Assert.True(finished.Completed);
        Assert.Equal(2, finished.FinalStep);
        Assert.Null(finished.ResumeHint);
        ExpectTerminated(supervisor);
        Assert.Equal(2, Assert.Single(_store.Committed).Step);
    }

    [Fact]
    public void AStopRequestFinishesTheStepCheckpointsAndReturnsAResumeHint()
    {
        var (supervisor, ranks) = Start(Settings(max: 1, maxSteps: 100));
        supervisor.Tell(AwaitJobFinished.Instance);
        var rank = ranks.Register();
        var (epoch, _) = ranks.Form(rank);
        ProbeRanks.ExpectRunStep(rank, 0);

        supervisor.Tell(new StopJob("SIGINT"));
        rank.ExpectNoMsg(Quiet);                                   // the step in flight is not interrupted
        ranks.ReportStep(rank, epoch, 0, 0);
        Assert.Equal(1, rank.ExpectMsg<SaveShard>().Step);
        ranks.Say(rank, ProbeRanks.Saved(epoch, 1, 0));
        rank.ExpectMsg<LeaveJob>();
        Sys.Stop(rank.Ref);

        var finished = ExpectMsg<JobFinished>();
        Assert.False(finished.Completed);
        Assert.Equal(1, finished.FinalStep);
        Assert.Contains("step 1", finished.ResumeHint);
    }

    [Fact]
    public void ARankThatRegistersLaterJoinsAtTheNextCheckpoint()
    {
        var (_, ranks) = Start(Settings(max: 2, interval: 1) with { FormationSettle = TimeSpan.FromMilliseconds(50) });
        var first = ranks.Register();
        var (epoch, _) = ranks.Form(first);
        ranks.RunStep(epoch, 0, first);
        first.ExpectMsg<SaveShard>();
        ProbeRanks.ExpectRunStep(first, 1);
        var late = ranks.Register();
        ranks.Say(first, ProbeRanks.Saved(epoch, 1, 0));

        first.ExpectMsg<AbortStep>();                                // the step after the checkpoint is abandoned
        ranks.Say(first, new StepAborted(epoch, 0));
        var (_, joins) = ranks.Form(first, late);
        Assert.All(joins, j => Assert.Equal(2, j.Assignment.WorldSize));
        Assert.All(joins, j => Assert.Equal(1, j.RestoreFrom?.Step));
    }

    [Fact]
    public void AGlobalBatchSizeOfZeroIsFixedByTheFirstWorldAndKeptAfterAReformation()
    {
        var (_, ranks) = Start(Settings(max: 2) with { GlobalBatchSize = 0, BatchSize = 4 });
        var survivor = ranks.Register();
        var failing = ranks.Register();
        var (epoch, joins) = ranks.Form(survivor, failing);
        Assert.All(joins, j => Assert.Equal(8, j.Assignment.GlobalBatchSize));   // 4 per rank x 2 ranks
        ProbeRanks.ExpectRunStep(survivor, 0);
        ProbeRanks.ExpectRunStep(failing, 0);

        ranks.Say(failing, new StepFailed(epoch, 1, 0, "engine exploded", PeerFailure: false));
        survivor.ExpectMsg<AbortStep>();
        ranks.Say(survivor, new StepAborted(epoch, 0));
        var (_, rejoined) = ranks.Form(survivor);

        Assert.Equal(8, Assert.Single(rejoined).Assignment.GlobalBatchSize);   // not 4 x 1
    }

    [Fact]
    public void DivergedStepsAreCountedAndTheJobStopsAfterMaxBadStepsInARow()
    {
        var (supervisor, ranks) = Start(Settings(maxSteps: 20) with { MaxBadSteps = 3 });
        var rank = ranks.Register();
        var (epoch, _) = ranks.Form(rank);
        void Report(long step, bool skipped)
        {
            ProbeRanks.ExpectRunStep(rank, step);
            ranks.Say(rank, new StepDone(epoch, 0, ProbeRanks.Result(step, 0) with { WorldLoss = skipped ? double.NaN : 2.0, Skipped = skipped }));
        }
        Report(0, skipped: true);
        Report(1, skipped: true);
        Report(2, skipped: false);   // a healthy step resets the count
        Report(3, skipped: true);
        Report(4, skipped: true);
        supervisor.Tell(AwaitJobFinished.Instance);
        Report(5, skipped: true);

        Assert.Contains("train.max_bad_steps=3", rank.ExpectMsg<LeaveJob>().Reason);
        Sys.Stop(rank.Ref);   // the rank leaves, as a real one does
        var finished = ExpectMsg<JobFinished>();
        Assert.False(finished.Completed);
        Assert.Contains("3 steps in a row diverged", finished.Error);
        Assert.Equal(5, _observer.Messages.Count(m => m.Contains("skipped") && m.Contains("no rank applied its update")));
        Assert.Contains(_observer.Messages, m => m.StartsWith("step 6 skipped") && m.Contains("5 in all"));
        Assert.Empty(_observer.Checkpoints);   // nothing was saved over the last committed checkpoint
    }

    [Fact]
    public void ACheckpointDueWhileThePreviousOneWritesIsDeferredAndTrainingGoesOn()
    {
        var (_, ranks) = Start(Settings(maxSteps: 10, interval: 1));
        var rank = ranks.Register();
        var (epoch, _) = ranks.Form(rank);
        ProbeRanks.ExpectRunStep(rank, 0);
        ranks.ReportStep(rank, epoch, 0, 0);
        Assert.Equal(1, rank.ExpectMsg<SaveShard>().Step);
        ProbeRanks.ExpectRunStep(rank, 1);   // the write of checkpoint 1 overlaps step 1

        ranks.ReportStep(rank, epoch, 0, 1);   // checkpoint 2 falls due: 1 is not durable yet

        ProbeRanks.ExpectRunStep(rank, 2);    // not held back
        Assert.Contains(_observer.Messages, m => m.Contains("checkpoint at step 2 deferred") && m.Contains("step 1 is not durable yet"));
        ranks.Say(rank, ProbeRanks.Saved(epoch, 1, 0));
        AwaitCondition(() => _observer.Checkpoints.Contains(1L));
        ranks.ReportStep(rank, epoch, 0, 2);
        Assert.Equal(3, rank.ExpectMsg<SaveShard>().Step);   // the first step after checkpoint 1 is durable
        ProbeRanks.ExpectRunStep(rank, 3);
    }

    [Fact]
    public void TheFinalCheckpointWaitsForTheOneStillWriting()
    {
        var (_, ranks) = Start(Settings(maxSteps: 2, interval: 1));
        var rank = ranks.Register();
        var (epoch, _) = ranks.Form(rank);
        ProbeRanks.ExpectRunStep(rank, 0);
        ranks.ReportStep(rank, epoch, 0, 0);
        Assert.Equal(1, rank.ExpectMsg<SaveShard>().Step);
        ProbeRanks.ExpectRunStep(rank, 1);
        ranks.ReportStep(rank, epoch, 0, 1);

        rank.ExpectNoMsg(Quiet);   // max steps reached: nothing to run, and checkpoint 1 still writes
        ranks.Say(rank, ProbeRanks.Saved(epoch, 1, 0));

        Assert.Equal(2, rank.ExpectMsg<SaveShard>().Step);
    }
}
