using Forge.Model.Optim;
using Akka.Actor;
using Akka.TestKit;
using Forge.Actors.Checkpointing;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Supervision;
using Forge.Actors.Tests.Ranks.Fakes;
using Forge.Model.Training;
using Xunit.Abstractions;

namespace Forge.Actors.Tests.Ranks;

public sealed class RankActorTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(output: output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly FakeEngineFactory _engines = new(numel: 10);
    private readonly FakeCollectiveBackend _backend = new();
    private readonly FakeCheckpointStore _store = new();

    /// <summary>A rank actor registered with `supervisor` (a probe).</summary>
    private IActorRef StartRank(TestProbe supervisor, int device = -1)
    {
        var services = new RankServices { Engines = _engines, Backend = _backend, Store = _store, Device = device, Node = "test" };
        var rank = Sys.ActorOf(RankActor.Props(services, supervisor.Ref.Path.ToStringWithoutAddress()));
        var registration = supervisor.ExpectMsg<RegisterRank>(Wait);
        Assert.Equal(device, registration.Device);
        supervisor.Reply(new RankRegistered("job"));
        return rank;
    }

    private static WorldJoined Join(TestProbe supervisor, IActorRef rank, int rankIndex, int worldSize, long epoch = 1, CheckpointManifest? restore = null)
    {
        supervisor.Send(rank, new JoinWorld(new RankAssignment("job", epoch, rankIndex, worldSize, [9], GlobalBatchSize: 8), restore));
        return supervisor.ExpectMsg<WorldJoined>(Wait);
    }

    [Fact]
    public void AllTorchWorkOfARankRunsOnOneDedicatedThread()
    {
        var supervisor = CreateTestProbe();
        var rank = StartRank(supervisor, device: 3);
        Join(supervisor, rank, 0, 1);
        for (var step = 0; step < 3; step++)
        {
            supervisor.Send(rank, new RunStep(1, step));
            supervisor.ExpectMsg<StepDone>(Wait);
        }
        supervisor.Send(rank, new SaveShard(1, 3));
        supervisor.ExpectMsg<ShardSaved>(Wait);
        Watch(rank);
        supervisor.Send(rank, new LeaveJob("done"));
        ExpectTerminated(rank);

        Assert.Equal([3], _engines.PreparedDevices);
        var engine = Assert.Single(_engines.Engines);
        var threads = engine.ThreadIds.Distinct().ToArray();
        Assert.Single(threads);                                       // build, steps, snapshot, dispose
        Assert.NotEqual(Environment.CurrentManagedThreadId, threads[0]);
        Assert.DoesNotContain(threads[0], _store.SaveThreads);       // the store write is not on the torch thread
        Assert.True(engine.Disposed);
    }

    [Fact]
    public void AStepReportsTheEngineResultToTheSupervisor()
    {
        var supervisor = CreateTestProbe();
        var rank = StartRank(supervisor);
        Join(supervisor, rank, 1, 2);
        supervisor.Send(rank, new RunStep(1, 7));
        var done = supervisor.ExpectMsg<StepDone>(Wait);
        Assert.Equal((1L, 1, 7L), (done.WorldEpoch, done.Rank, done.Result.Step));
        Assert.Equal(FakeEngineFactory.WorldTokens, done.Result.WorldTokens);
        Assert.Equal(FakeEngineFactory.RankSamples(1), done.Result.RankSamples);
    }

    [Fact]
    public void AnEngineErrorIsReportedAsTheRankOwnFailure()
    {
        _engines.Behaviour = (_, step) => step == 2 ? StepBehaviour.Throw : StepBehaviour.Succeed;
        var supervisor = CreateTestProbe();
        var rank = StartRank(supervisor);
        Join(supervisor, rank, 0, 1);
        supervisor.Send(rank, new RunStep(1, 2));
        var failed = supervisor.ExpectMsg<StepFailed>(Wait);
        Assert.Equal(2, failed.Step);
        Assert.False(failed.PeerFailure);
        Assert.Contains("fake engine failure at step 2", failed.Error);
    }

    [Fact]
    public void AnAbortFreesAStepHungInACollectiveAndIsAcknowledged()
    {
        _engines.Behaviour = (_, _) => StepBehaviour.HangInCollective;
        var supervisor = CreateTestProbe();
        var rank = StartRank(supervisor);
        Join(supervisor, rank, 0, 2);
        supervisor.Send(rank, new RunStep(1, 0));
        supervisor.ExpectNoMsg(TimeSpan.FromMilliseconds(300));     // hung, as on a dead peer

        supervisor.Send(rank, new AbortStep(1, "peer lost"));
        var replies = supervisor.ReceiveN(2, Wait);                  // in either order: both go through the thread pool
        Assert.True(replies.OfType<StepFailed>().Single().PeerFailure);   // a collective failure does not blame this rank
        Assert.Single(replies.OfType<StepAborted>());
    }

    [Fact]
    public void SavingAShardHandsItToTheStoreAndDoesNotHoldUpTheNextStep()
    {
        _store.SaveGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var supervisor = CreateTestProbe();
        var rank = StartRank(supervisor);
        Join(supervisor, rank, 1, 2);

        supervisor.Send(rank, new SaveShard(1, 5));
        supervisor.Send(rank, new RunStep(1, 5));
        Assert.Equal(5, supervisor.ExpectMsg<StepDone>(Wait).Result.Step);   // while the write is still blocked
        Assert.Empty(_store.Saves);

        _store.SaveGate.SetResult();
        var saved = supervisor.ExpectMsg<ShardSaved>(Wait);
        Assert.Equal((5L, 1, 5L, 5L), (saved.Step, saved.Receipt.Rank, saved.Receipt.Start, saved.Receipt.Length));
        Assert.Equal((5L, 1), Assert.Single(_store.Saves));
    }

    [Fact]
    public async Task AShardSnapshotTakenAfterAStepHoldsThatStepState()
    {
        var supervisor = CreateTestProbe();
        var rank = StartRank(supervisor);
        Join(supervisor, rank, 0, 1);
        supervisor.Send(rank, new RunStep(1, 0));
        supervisor.Send(rank, new RunStep(1, 1));
        supervisor.Send(rank, new SaveShard(1, 2));    // queued behind both steps on the torch thread
        // Replies race each other through the thread pool; only the torch thread's order is fixed.
        var replies = supervisor.ReceiveN(3, Wait);
        Assert.Equal(2, replies.OfType<StepDone>().Count());
        Assert.Single(replies.OfType<ShardSaved>());

        var manifest = Manifest(step: 2, worldSize: 1, ranks: [0]);
        var restored = await _store.LoadRangeAsync(manifest, 0, 10);
        Assert.Equal(2, restored.Step);
        Assert.Equal(FakeEngineFactory.MasterValue(4, 2), restored.Master[4]);
    }

    [Fact]
    public async Task JoiningWithACheckpointRestoresTheRankSliceReshardedToTheNewWorld()
    {
        // A checkpoint of 10 elements saved by a world of 2 ([0,5) and [5,10)), after 3 steps.
        await SaveShards(step: 3, worldSize: 2);
        var manifest = Manifest(step: 3, worldSize: 2, ranks: [0, 1]);

        var supervisor = CreateTestProbe();
        var rank = StartRank(supervisor);
        Join(supervisor, rank, rankIndex: 2, worldSize: 3, restore: manifest);

        // Rank 2 of 3 owns [8, 12): 8 and 9 are parameters, 10 and 11 are padding past every saved shard.
        Assert.Equal((8L, 2L), Assert.Single(_store.Loads));
        var shard = Assert.Single(_engines.Engines).Restored!;
        Assert.Equal((8L, 4L, 3L), (shard.Start, shard.Length, shard.Step));
        Assert.Equal([FakeEngineFactory.MasterValue(8, 3), FakeEngineFactory.MasterValue(9, 3), 0f, 0f], shard.Master);
    }

    [Fact]
    public void AFailedJoinIsReportedAndTheRankCanJoinTheNextWorld()
    {
        var manifest = Manifest(step: 3, worldSize: 1, ranks: [0]) with { JobId = "missing" };
        var supervisor = CreateTestProbe();
        var rank = StartRank(supervisor);
        supervisor.Send(rank, new JoinWorld(new RankAssignment("job", 1, 0, 1, [9], GlobalBatchSize: 8), manifest));
        var failed = supervisor.ExpectMsg<JoinFailed>(Wait);
        Assert.Equal(1, failed.WorldEpoch);
        Assert.Null(failed.CorruptCheckpointStep);   // a missing job is not a damaged checkpoint

        Join(supervisor, rank, 0, 1, epoch: 2);
        supervisor.Send(rank, new RunStep(2, 0));
        supervisor.ExpectMsg<StepDone>(Wait);
    }

    [Fact]
    public void ADamagedCheckpointIsNamedInTheJoinFailureSoTheSupervisorBlamesItNotTheRank()
    {
        var manifest = Manifest(step: 3, worldSize: 1, ranks: [0]);
        _store.LoadFault = m => new CheckpointCorruptException(m.JobId, m.Step, 0, 1, "rank 0 chunk 1 fails its checksum");
        var supervisor = CreateTestProbe();
        var rank = StartRank(supervisor);

        supervisor.Send(rank, new JoinWorld(new RankAssignment("job", 1, 0, 1, [9], GlobalBatchSize: 8), manifest));

        var failed = supervisor.ExpectMsg<JoinFailed>(Wait);
        Assert.Equal(3, failed.CorruptCheckpointStep);
        Assert.Contains("checksum", failed.Error);
    }

    [Fact]
    public void JoiningANewWorldReleasesThePreviousOne()
    {
        var supervisor = CreateTestProbe();
        var rank = StartRank(supervisor);
        Join(supervisor, rank, 0, 2, epoch: 1);
        Join(supervisor, rank, 0, 1, epoch: 2);
        var engines = _engines.Engines.ToArray();
        AwaitAssert(() => Assert.True(engines[0].Disposed));
        Assert.False(engines[1].Disposed);

        supervisor.Send(rank, new RunStep(1, 0));                     // the old world's step is refused
        Assert.Equal(-1, supervisor.ExpectMsg<StepFailed>(Wait).Rank);
    }

    [Fact]
    public void Rank0CreatesTheGroupIdThroughTheBackend()
    {
        var supervisor = CreateTestProbe();
        var rank = StartRank(supervisor);
        supervisor.Send(rank, new CreateGroup(4));
        var created = supervisor.ExpectMsg<GroupCreated>(Wait);
        Assert.Equal(4, created.WorldEpoch);
        Assert.Equal(BitConverter.GetBytes(1), created.GroupId);
    }

    [Fact]
    public void ARankKeepsRegisteringUntilASupervisorAnswers()
    {
        var supervisor = CreateTestProbe();
        var services = new RankServices
        {
            Engines = _engines, Backend = _backend, Store = _store, RegisterRetry = TimeSpan.FromMilliseconds(100),
        };
        Sys.ActorOf(RankActor.Props(services, supervisor.Ref.Path.ToStringWithoutAddress()));
        supervisor.ExpectMsg<RegisterRank>(Wait);
        supervisor.ExpectMsg<RegisterRank>(Wait);                     // unanswered: asked again
        supervisor.Reply(new RankRegistered("job"));
        var afterAnswer = supervisor.ReceiveWhile(TimeSpan.FromMilliseconds(600), m => m as RegisterRank);
        Assert.True(afterAnswer.Count <= 1, $"{afterAnswer.Count} registrations after the answer (one retry may cross it)");
    }

    [Fact]
    public void WhenTheSupervisorDiesTheRankReleasesItsWorldAndRegistersAgain()
    {
        var probe = CreateTestProbe();
        var services = new RankServices { Engines = _engines, Backend = _backend, Store = _store, RegisterRetry = TimeSpan.FromMilliseconds(100) };
        var first = Sys.ActorOf(Props.Create(() => new SupervisorStandIn(probe)), "supervisor");
        var rank = Sys.ActorOf(RankActor.Props(services, "/user/supervisor"));
        probe.ExpectMsg<RegisterRank>(Wait);
        rank.Tell(new JoinWorld(new RankAssignment("job", 1, 0, 1, [9], GlobalBatchSize: 8), null), first);
        // A registration retry (every 100 ms here) may cross the stand-in's reply on a loaded machine.
        probe.FishForMessage(m => m is WorldJoined, Wait);

        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);
        AwaitAssert(() => Assert.True(Assert.Single(_engines.Engines).Disposed));

        Sys.ActorOf(Props.Create(() => new SupervisorStandIn(probe)), "supervisor");
        probe.FishForMessage(m => m is RegisterRank, Wait);
    }

    /// <summary>Accepts registrations as a supervisor would and shows the probe everything it receives.</summary>
    private sealed class SupervisorStandIn : ReceiveActor
    {
        public SupervisorStandIn(IActorRef probe)
        {
            Receive<RegisterRank>(r => { Sender.Tell(new RankRegistered("job")); probe.Forward(r); });
            ReceiveAny(probe.Forward);
        }
    }

    private async Task SaveShards(long step, int worldSize)
    {
        for (var r = 0; r < worldSize; r++)
        {
            var range = ShardRange.For(_engines.Numel, r, worldSize);
            var master = Enumerable.Range(0, (int)range.Length).Select(i => FakeEngineFactory.MasterValue(range.Start + i, step)).ToArray();
            await _store.SaveShardAsync("job", step, r, new Model.Optim.OptimizerShard(range.Start, range.Length, master, master, master, step));
        }
    }

    private CheckpointManifest Manifest(long step, int worldSize, int[] ranks) => new()
    {
        JobId = "job",
        Step = step,
        WorldSize = worldSize,
        Layout = new FlatLayoutInfo([new FlatParameter("w", [10], 0, 10)], 10, 10),
        Shards = ranks.Select(r => new ShardReceipt(r, 0, 0, [])).ToArray(),
        DataEpoch = 0,
        DataPosition = 0,
        SamplesConsumed = 0,
        RngSeed = 1,
        SchedulerStep = step,
        FrozenParameters = [],
        ModelConfigHash = "",
    };
}
