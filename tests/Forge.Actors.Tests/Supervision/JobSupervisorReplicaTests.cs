using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Forge.Actors.Protocol;
using Forge.Actors.Supervision;
using Forge.Actors.Tests.Ranks.Fakes;

namespace Forge.Actors.Tests.Supervision;

/// <summary>The supervisor's side of buddy replicas, against probe ranks: which copies it asks for, and where a re-formed world restores from.</summary>
public sealed class JobSupervisorReplicaTests : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly FakeCheckpointStore _store = new() { RequireSavedShards = false };
    private readonly RecordingObserver _observer = new();

    // No overhead budget unless a test sets one: the probes' captures take as long as the test says, against steps of milliseconds.
    private ProbeRanks Start(long checkpointInterval = 0, double maxOverhead = 0) => new(this, Sys.ActorOf(JobSupervisor.Props(new JobSupervisorSettings
    {
        JobId = "job",
        ReplicaMaxOverhead = maxOverhead,
        MaxSteps = 20,
        CheckpointInterval = checkpointInterval,
        MinRanks = 1,
        MaxRanks = 3,
        FormTimeout = Wait,
        StepTimeout = Wait,
        FormationSettle = TimeSpan.FromMilliseconds(200),
        AbortTimeout = TimeSpan.FromSeconds(2),
        ShutdownTimeout = Wait,
    }, _store, _observer)));

    /// <summary>Every rank gets the copy request of `step` (before the step that overlaps it), then runs that step.</summary>
    private static ReplicateShard[] ExpectCopiesThenStep(long step, TestProbe[] world, bool checkpoint = false)
    {
        var copies = world.Select(probe =>
        {
            if (checkpoint) probe.ExpectMsg<SaveShard>(Wait);
            var copy = probe.ExpectMsg<ReplicateShard>(Wait);
            Assert.Equal(step, copy.Step);
            ProbeRanks.ExpectRunStep(probe, step);
            return copy;
        }).ToArray();
        return copies;
    }

    private static void Replicated(ProbeRanks ranks, long epoch, long step, TestProbe[] world, params int[] rankList)
    {
        foreach (var rank in rankList) ranks.Say(world[rank], new ShardReplicated(epoch, step, rank, 0.001));
    }

    private static void Done(ProbeRanks ranks, long epoch, long step, TestProbe[] world)
    {
        for (var rank = 0; rank < world.Length; rank++) ranks.ReportStep(world[rank], epoch, rank, step);
    }

    [Fact]
    public void AfterALossTheWorldRestoresTheNewestStepEveryShardHasInMemoryAndRunsOnFromIt()
    {
        var ranks = Start();
        TestProbe[] world = [ranks.Register(), ranks.Register()];
        var (epoch, _) = ranks.Form(["p:1", "p:2"], world);
        foreach (var probe in world) ProbeRanks.ExpectRunStep(probe, 0);
        Done(ranks, epoch, 0, world);

        var first = ExpectCopiesThenStep(1, world);
        Assert.Equal(["p:2", "p:1"], first.Select(c => c.BuddyEndpoint));
        Replicated(ranks, epoch, 1, world, 0, 1);
        Done(ranks, epoch, 1, world);
        var second = ExpectCopiesThenStep(2, world);
        Assert.Equal([new ReplicaStep(epoch, 1)], second[0].Retain);   // the stores may drop every other copy
        Replicated(ranks, epoch, 2, world, 0, 1);

        Sys.Stop(world[1].Ref);   // rank 1 dies while running step 2
        world[0].ExpectMsg<AbortStep>(Wait);
        ranks.Say(world[0], new StepAborted(epoch, 0));
        var (newEpoch, joins) = ranks.Form(["p:1"], world[0]);

        var memory = Assert.Single(joins).FromMemory;
        Assert.NotNull(memory);
        Assert.Equal((epoch, 2L, 2, 10L), (memory.SourceEpoch, memory.Step, memory.SourceWorldSize, memory.Numel));
        // Rank 1's shard comes from its buddy's memory, in the survivor's process.
        Assert.Equal(["p:1", "p:1"], memory.Sources.Select(s => s.Endpoint));
        Assert.Equal(newEpoch, ProbeRanks.ExpectRunStep(world[0], 2).WorldEpoch);   // no completed step is lost
        Assert.Contains(_observer.Messages, m => m.Contains("restored step 2 from memory"));
    }

    [Fact]
    public void ACopyStillOnItsWayAtTheLossCostsOneStepNotMore()
    {
        var ranks = Start();
        TestProbe[] world = [ranks.Register(), ranks.Register()];
        var (epoch, _) = ranks.Form(["p:1", "p:2"], world);
        foreach (var probe in world) ProbeRanks.ExpectRunStep(probe, 0);
        Done(ranks, epoch, 0, world);
        ExpectCopiesThenStep(1, world);
        Replicated(ranks, epoch, 1, world, 0, 1);
        Done(ranks, epoch, 1, world);
        ExpectCopiesThenStep(2, world);
        Replicated(ranks, epoch, 2, world, 0);   // rank 1's copy of step 2 was half sent when its process died

        Sys.Stop(world[1].Ref);
        world[0].ExpectMsg<AbortStep>(Wait);
        ranks.Say(world[0], new StepAborted(epoch, 0));
        var (_, joins) = ranks.Form(["p:1"], world[0]);

        Assert.Equal(1, Assert.Single(joins).FromMemory!.Step);
        ProbeRanks.ExpectRunStep(world[0], 1);
    }

    [Fact]
    public void ACopyDueWhileThePreviousOneIsOnItsWayIsDeferredAndTrainingGoesOn()
    {
        var ranks = Start();
        TestProbe[] world = [ranks.Register(), ranks.Register()];
        var (epoch, _) = ranks.Form(["p:1", "p:2"], world);
        foreach (var probe in world) ProbeRanks.ExpectRunStep(probe, 0);
        Done(ranks, epoch, 0, world);
        ExpectCopiesThenStep(1, world);
        Replicated(ranks, epoch, 1, world, 0);
        Done(ranks, epoch, 1, world);

        // Rank 1's copy of step 1 is still being sent: step 2 runs at once, with no new copy (two per shard at most).
        foreach (var probe in world) ProbeRanks.ExpectRunStep(probe, 2);
        Assert.Contains(_observer.Messages, m => m.Contains("copy of step 2 deferred"));
        Replicated(ranks, epoch, 1, world, 1);
        Done(ranks, epoch, 2, world);
        // The first step after the round ended takes the deferred copy, of the shards as they stand then.
        ExpectCopiesThenStep(3, world);
        Replicated(ranks, epoch, 3, world, 0);
        Done(ranks, epoch, 3, world);
        foreach (var probe in world) ProbeRanks.ExpectRunStep(probe, 4);
        Assert.Single(_observer.Messages, m => m.Contains("deferred"));   // once per world
        // Each step's report says what a failure then would restore: nothing until step 1's round completed.
        Assert.Equal(new long?[] { null, null, 1, 1 }, _observer.Steps.Select(r => r.MemoryStep));
    }

    [Fact]
    public void ACopyDueSoonerThanTheOverheadBudgetAllowsIsDeferredAndTrainingGoesOn()
    {
        var ranks = Start(maxOverhead: 0.02);
        TestProbe[] world = [ranks.Register(), ranks.Register()];
        var (epoch, _) = ranks.Form(["p:1", "p:2"], world);
        foreach (var probe in world) ProbeRanks.ExpectRunStep(probe, 0);
        Done(ranks, epoch, 0, world);
        ExpectCopiesThenStep(1, world);
        // Both copies complete, but rank 1's capture held its step 2 s: the next round waits 100 s at 2%.
        ranks.Say(world[0], new ShardReplicated(epoch, 1, 0, 0.001));
        ranks.Say(world[1], new ShardReplicated(epoch, 1, 1, 2.0));
        Done(ranks, epoch, 1, world);

        foreach (var probe in world) ProbeRanks.ExpectRunStep(probe, 2);   // no copy of step 2
        Assert.Contains(_observer.Messages, m => m.Contains("copy of step 2 deferred") && m.Contains("replica_max_overhead = 0.02")
                                                 && m.Contains("100.0 s apart"));
    }

    [Fact]
    public void WhenAShardAndItsCopyAreBothGoneTheWorldFallsBackToTheDurableCheckpoint()
    {
        var ranks = Start(checkpointInterval: 1);
        TestProbe[] world = [ranks.Register(), ranks.Register(), ranks.Register()];
        var (epoch, _) = ranks.Form(["p:1", "p:2", "p:3"], world);   // buddies: 0 -> p:2, 1 -> p:3, 2 -> p:1
        foreach (var probe in world) ProbeRanks.ExpectRunStep(probe, 0);
        Done(ranks, epoch, 0, world);
        ExpectCopiesThenStep(1, world, checkpoint: true);
        for (var rank = 0; rank < 3; rank++) ranks.Say(world[rank], ProbeRanks.Saved(epoch, 1, rank));
        Replicated(ranks, epoch, 1, world, 0, 1, 2);
        AwaitCondition(() => _observer.Checkpoints.Count == 1, Wait);   // committed: the checkpoint of step 2 is not deferred
        Done(ranks, epoch, 1, world);
        ExpectCopiesThenStep(2, world, checkpoint: true);
        Replicated(ranks, epoch, 2, world, 0, 1, 2);

        // Two adjacent failures: rank 0's process and the process of its buddy.
        Sys.Stop(world[0].Ref);
        Sys.Stop(world[1].Ref);
        world[2].ExpectMsg<AbortStep>(Wait);
        Thread.Sleep(300);
        ranks.Say(world[2], new StepAborted(epoch, 2));
        var (_, joins) = ranks.Form(["p:3"], world[2]);

        var join = Assert.Single(joins);
        Assert.Null(join.FromMemory);
        Assert.Equal(1, join.RestoreFrom!.Step);
        ProbeRanks.ExpectRunStep(world[2], 1);
        Assert.Contains(_observer.Messages, m => m.Contains("falling back to the durable checkpoint at step 1") && m.Contains("both gone"));
        Assert.Contains(_observer.Messages, m => m.Contains("restored step 1 from the durable checkpoint"));
    }

    [Fact]
    public void ARestoreFromMemoryThatFindsACopyGoneFallsBackToTheDurableCheckpointBlamingNoRank()
    {
        var ranks = Start();
        TestProbe[] world = [ranks.Register(), ranks.Register()];
        var (epoch, _) = ranks.Form(["p:1", "p:2"], world);
        foreach (var probe in world) ProbeRanks.ExpectRunStep(probe, 0);
        Done(ranks, epoch, 0, world);
        ExpectCopiesThenStep(1, world);
        Replicated(ranks, epoch, 1, world, 0, 1);
        ranks.Say(world[1], new StepFailed(epoch, 1, 1, "engine exploded", PeerFailure: false));
        world[1].ExpectMsg<LeaveJob>(Wait);
        world[0].ExpectMsg<AbortStep>(Wait);
        ranks.Say(world[0], new StepAborted(epoch, 0));

        var create = world[0].ExpectMsg<CreateGroup>(Wait);
        ranks.Say(world[0], new GroupCreated(create.WorldEpoch, [1]));
        Assert.NotNull(world[0].ExpectMsg<JoinWorld>(Wait).FromMemory);
        ranks.Say(world[0], new JoinFailed(create.WorldEpoch, 0, "ReplicaUnavailableException: no replica channel at p:1", MemoryCopyLost: true));
        world[0].ExpectMsg<AbortStep>(Wait);
        ranks.Say(world[0], new StepAborted(create.WorldEpoch, 0));

        var (_, joins) = ranks.Form(["p:1"], world[0]);   // the same rank: it was not blamed
        Assert.Null(Assert.Single(joins).FromMemory);
        ProbeRanks.ExpectRunStep(world[0], 0);
    }
}
