using Akka.Actor;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Tests.Supervision;

namespace Forge.Actors.Tests.Ranks;

public sealed class StepRelayTests() : Akka.TestKit.Xunit2.TestKit
{
    private static StepDone Done(long epoch, int rank, long step) => new(epoch, rank, ProbeRanks.Result(step, rank));

    [Fact]
    public void TheResultsOfAStepGoBackOnceEveryLocalMemberReportedIt()
    {
        var relay = new StepRelay();
        var members = Enumerable.Range(0, 3).Select(_ => CreateTestProbe().Ref).ToArray();
        for (var r = 0; r < 3; r++) relay.Joined(5, 10 + r, members[r]);

        Assert.Null(relay.Done(Done(5, 12, 7)));
        Assert.Null(relay.Done(Done(5, 10, 7)));
        var all = relay.Done(Done(5, 11, 7));

        Assert.NotNull(all);
        Assert.Equal([10, 11, 12], all.Select(d => d.Rank).Order());
        // The next step gathers afresh.
        Assert.Null(relay.Done(Done(5, 10, 8)));
    }

    [Fact]
    public void ANewerWorldReplacesTheMembersOfTheOlderOneAndItsLateMessagesReachNobody()
    {
        var relay = new StepRelay();
        var (a, b) = (CreateTestProbe().Ref, CreateTestProbe().Ref);
        relay.Joined(1, 0, a);
        relay.Joined(1, 1, b);
        relay.Joined(2, 0, b);
        relay.Joined(1, 1, a);   // a late join of the superseded world

        Assert.Empty(relay.MembersOf(1));
        Assert.Equal([b], relay.MembersOf(2));
        Assert.Null(relay.Member(1, 1));
        Assert.Equal(b, relay.Member(2, 0));
        Assert.Null(relay.Done(Done(1, 1, 0)));
        Assert.NotNull(relay.Done(Done(2, 0, 0)));   // world 2 has one member here
    }

    [Fact]
    public void AMemberThatStoppedIsNoLongerAMemberAndNoLongerAwaitedAndNamesTheStepItWasRunning()
    {
        var relay = new StepRelay();
        var (a, b) = (CreateTestProbe().Ref, CreateTestProbe().Ref);
        relay.Joined(3, 0, a);
        relay.Joined(3, 1, b);

        Assert.Null(relay.Left(b));                  // no step was relayed to it yet
        relay.Relaying(3, 4);
        Assert.Equal((3L, 0, 4L), relay.Left(a));    // running step 4 as rank 0 of world 3
        relay.Joined(3, 0, a);

        Assert.Equal([a], relay.MembersOf(3));
        Assert.Null(relay.Done(Done(3, 1, 4)));      // from a rank that is gone: dropped
        Assert.NotNull(relay.Done(Done(3, 0, 4)));
    }
}
