using Akka.Actor;
using Akka.TestKit;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Supervision;
using Forge.Actors.Tests.Ranks.Fakes;
using Xunit.Abstractions;

namespace Forge.Actors.Tests.Ranks;

public sealed class RankHostTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(output: output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly FakeEngineFactory _engines = new(numel: 10);

    private LeaveJob? _released;

    private IActorRef StartHost(TestProbe supervisor, params int[] devices)
    {
        var slots = devices.Select(d => new RankServices
        {
            Engines = _engines, Backend = new FakeCollectiveBackend(), Store = new FakeCheckpointStore(), Device = d, Node = "test",
        }).ToList();
        return Sys.ActorOf(RankHost.Props(slots, supervisor.Ref.Path.ToStringWithoutAddress(), TimeSpan.FromMilliseconds(100), leave => _released = leave));
    }

    /// <summary>The next rank to register, other than `gone` (whose registration retry may cross its first answer).</summary>
    private static IActorRef Registered(TestProbe supervisor, int device, IActorRef? gone = null)
    {
        var registration = (RegisterRank)supervisor.FishForMessage(m => m is RegisterRank && !supervisor.LastSender.Equals(gone), Wait);
        Assert.Equal(device, registration.Device);
        var rank = supervisor.LastSender;
        supervisor.Reply(new RankRegistered("job"));
        return rank;
    }

    /// <summary>Each of `ranks` joins world `epoch` as its index; returns what each told the supervisor.</summary>
    private static WorldJoined[] JoinAll(TestProbe supervisor, IActorRef[] ranks, long epoch = 1)
    {
        var joined = new WorldJoined[ranks.Length];
        for (var r = 0; r < ranks.Length; r++)
        {
            supervisor.Send(ranks[r], new JoinWorld(new RankAssignment("job", epoch, r, ranks.Length, [9], GlobalBatchSize: 8), null));
            joined[r] = supervisor.ExpectMsg<WorldJoined>(Wait);
        }
        return joined;
    }

    [Fact]
    public void ADroppedRankIsReplacedByAFreshOneThatRegistersAgainOnTheSameDevice()
    {
        var supervisor = CreateTestProbe();
        StartHost(supervisor, 2);
        var first = Registered(supervisor, 2);
        Watch(first);

        supervisor.Send(first, new LeaveJob("dropped from the job: rank 0 failed step 786", MayRejoin: true));

        ExpectTerminated(first);
        var replacement = Registered(supervisor, 2, gone: first);
        Assert.NotEqual(first, replacement);
    }

    [Fact]
    public void ARankToldTheJobFinishedIsNotReplacedAndTheHostStopsAfterItsLastRank()
    {
        var supervisor = CreateTestProbe();
        var host = StartHost(supervisor, -1, -1);
        var a = Registered(supervisor, -1);
        var b = Registered(supervisor, -1);
        Watch(host);

        supervisor.Send(a, new LeaveJob("the job completed"));
        supervisor.ExpectNoMsg(TimeSpan.FromMilliseconds(400));   // no replacement registers
        supervisor.Send(b, new LeaveJob("the job completed"));

        ExpectTerminated(host, Wait);
    }

    [Fact]
    public void TheHostOutlivesADroppedRankUntilItsReplacementLeavesForGood()
    {
        var supervisor = CreateTestProbe();
        var host = StartHost(supervisor, -1);
        var first = Registered(supervisor, -1);
        Watch(host);

        supervisor.Send(first, new LeaveJob("dropped", MayRejoin: true));
        var second = Registered(supervisor, -1, gone: first);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));             // the host is still there
        supervisor.Send(second, new LeaveJob("the job has finished"));

        ExpectTerminated(host, Wait);
    }

    [Fact]
    public void ARefusedRankIsNotReplacedAndTheHostReportsTheRefusal()
    {
        var supervisor = CreateTestProbe();
        var host = StartHost(supervisor, 0);
        var rank = Registered(supervisor, 0);
        Watch(host);

        supervisor.Send(rank, new LeaveJob("its config trains job 'a' but this job is 'b'", Refused: true));

        ExpectTerminated(host, Wait);
        Assert.NotNull(_released);
        Assert.True(_released.Refused);
        Assert.Contains("job 'a'", _released.Reason);
    }

    [Fact]
    public void ARankThatStopsWithoutBeingToldToLeaveIsReplaced()
    {
        var supervisor = CreateTestProbe();
        StartHost(supervisor, 1);
        var first = Registered(supervisor, 1);

        Sys.Stop(first);   // as a crash would: no LeaveJob, no RankLeaving

        var replacement = Registered(supervisor, 1, gone: first);
        Assert.NotEqual(first, replacement);
    }

    [Fact]
    public void TheHostTakesEachStepOnceForItsRanksAndAnswersOnceTheLastOfThemIsDone()
    {
        var supervisor = CreateTestProbe();
        var host = StartHost(supervisor, -1, -1);
        var ranks = new[] { Registered(supervisor, -1), Registered(supervisor, -1) };
        Assert.All(JoinAll(supervisor, ranks), joined => Assert.Equal(host, joined.Relay));

        supervisor.Send(host, new RunStep(1, 0));

        var done = supervisor.ExpectMsg<StepsDone>(Wait);
        Assert.Equal((1L, 0L), (done.WorldEpoch, done.Step));
        Assert.Equal([0, 1], done.Done.Select(d => d.Rank).Order());
        Assert.All(done.Done, d => Assert.Equal(0, d.Result.Step));
        supervisor.ExpectNoMsg(TimeSpan.FromMilliseconds(300));   // no rank answered on its own
    }

    [Fact]
    public void ASnapshotThroughTheHostReachesEveryRankOfTheWorldAndAStepOfAnOlderWorldNone()
    {
        var supervisor = CreateTestProbe();
        var host = StartHost(supervisor, -1, -1);
        var ranks = new[] { Registered(supervisor, -1), Registered(supervisor, -1) };
        JoinAll(supervisor, ranks, epoch: 1);
        JoinAll(supervisor, ranks, epoch: 2);

        supervisor.Send(host, new RunStep(1, 0));   // world 1 was superseded by world 2
        supervisor.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        supervisor.Send(host, new SaveShard(2, 0));

        var saved = new[] { supervisor.ExpectMsg<ShardSaved>(Wait), supervisor.ExpectMsg<ShardSaved>(Wait) };
        Assert.Equal([0, 1], saved.Select(s => s.Receipt.Rank).Order());
        Assert.All(saved, s => Assert.Equal(2, s.WorldEpoch));
    }

    [Fact]
    public void ARankThatDiesWhileRunningAStepIsReportedByItsHostAsThatRanksFailedStep()
    {
        var supervisor = CreateTestProbe();
        var host = StartHost(supervisor, -1, -1);
        var ranks = new[] { Registered(supervisor, -1), Registered(supervisor, -1) };
        JoinAll(supervisor, ranks);
        supervisor.Send(host, new RunStep(1, 0));
        supervisor.ExpectMsg<StepsDone>(Wait);
        supervisor.Send(host, new RunStep(1, 1));
        supervisor.ExpectMsg<StepsDone>(Wait);

        ranks[1].Tell(Kill.Instance);

        var failed = supervisor.ExpectMsg<StepFailed>(Wait);
        Assert.Equal((1L, 1, 1L, false), (failed.WorldEpoch, failed.Rank, failed.Step, failed.PeerFailure));
        Assert.Equal(ranks[1], supervisor.LastSender);   // blamed on the rank that died, not on its host
    }

    [Fact]
    public void ARankToldToLeaveIsNotReportedAsFailed()
    {
        var supervisor = CreateTestProbe();
        var host = StartHost(supervisor, -1);
        var rank = Registered(supervisor, -1);
        JoinAll(supervisor, [rank]);
        supervisor.Send(host, new RunStep(1, 0));
        supervisor.ExpectMsg<StepsDone>(Wait);

        supervisor.Send(rank, new LeaveJob("the job completed"));

        supervisor.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
    }
}
