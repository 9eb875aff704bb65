using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Forge.Actors.Protocol;
using Forge.Actors.Replication;

namespace Forge.Actors.Tests.Replication;

/// <summary>A memory-only process's actor: what it tells each supervisor of its copies, and which copies it keeps.</summary>
public sealed class ReplicaHolderTests : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static ReplicaCopy Copy(long step, int owner = 0) =>
        new(new ReplicaKey("job", 3, owner, step), ReplicaChannelTests.Shard(start: 0, length: 64, step), samplesConsumed: step * 8);

    // Retries a minute apart: within a test a holder registers when it starts registering.
    private IActorRef StartHolder(ReplicaServer server, Func<TestProbe> supervisor) =>
        Sys.ActorOf(ReplicaHolder.Props("job", "node-h", server, () => [supervisor().Ref.Path.ToStringWithoutAddress()], _ => { },
            retry: TimeSpan.FromMinutes(1)));

    [Fact]
    public void AHolderKeepsItsCopiesWhenTheSupervisorDiesAndListsThemToTheNextOne()
    {
        using var store = new ReplicaStore();
        using var server = ReplicaServer.Loopback(store);
        var current = CreateTestProbe();
        StartHolder(server, () => current);
        Assert.Null(current.ExpectMsg<RegisterReplicaHolder>(Wait).Held);   // nothing held yet
        current.Reply(new ReplicaHolderRegistered("job", ReplicaChannelTests.Secret));
        store.Keep(Copy(step: 14));   // a buddy's copy, pushed under the first supervisor

        var first = current;
        current = CreateTestProbe();
        Watch(first.Ref);
        Sys.Stop(first.Ref);
        ExpectTerminated(first.Ref);

        // A registration tick queued before the first answer may still reach the new probe, listing nothing.
        var again = current.FishForMessage<RegisterReplicaHolder>(r => r.Held is not null, Wait);
        var held = Assert.Single(again.Held!.Copies);
        Assert.Equal((3L, 14L, 0, 112L), (held.WorldEpoch, held.Step, held.OwnerRank, held.SamplesConsumed));
        Assert.Equal(server.Endpoint, again.Held.Endpoint);
        Assert.Single(store.Held("job"));
    }

    [Fact]
    public void ANewSupervisorThatDoesNotAdoptTheCopiesHasThemFreed()
    {
        using var store = new ReplicaStore();
        using var server = ReplicaServer.Loopback(store);
        store.Keep(Copy(step: 14));
        var supervisor = CreateTestProbe();
        StartHolder(server, () => supervisor);
        Assert.Single(supervisor.ExpectMsg<RegisterReplicaHolder>(Wait).Held!.Copies);
        supervisor.Reply(new ReplicaHolderRegistered("job", ReplicaChannelTests.Secret, KeepHeld: false));
        AwaitAssert(() => Assert.Empty(store.Held("job")), Wait);
    }

    [Fact]
    public void AdoptedCopiesStayUntilARoundNamesOthers()
    {
        using var store = new ReplicaStore();
        using var server = ReplicaServer.Loopback(store);
        store.Keep(Copy(step: 14));
        var supervisor = CreateTestProbe();
        var holder = StartHolder(server, () => supervisor);
        supervisor.ExpectMsg<RegisterReplicaHolder>(Wait);
        supervisor.Reply(new ReplicaHolderRegistered("job", ReplicaChannelTests.Secret, KeepHeld: true));
        store.Keep(Copy(step: 15, owner: 1));
        // Handled after the answer (one mailbox, sent in this order): had the answer freed the adopted copy,
        // step 14 would be gone here.
        holder.Tell(new RetainReplicas("job", [new ReplicaStep(3, 14)]), supervisor.Ref);
        AwaitAssert(() => Assert.Equal([14L], store.Held("job").Select(c => c.Step).ToArray()), Wait);

        // A round of another world keeps its own step and the steps the supervisor still needs, no other.
        store.Keep(Copy(step: 15, owner: 1));
        store.Keep(new ReplicaCopy(new ReplicaKey("job", 4, 0, 20), ReplicaChannelTests.Shard(0, 64, 20), 160));
        holder.Tell(new RetainReplicas("job", [new ReplicaStep(3, 15), new ReplicaStep(4, 20)]), supervisor.Ref);
        AwaitAssert(() => Assert.Equal([15L, 20L], store.Held("job").Select(c => c.Step).Order().ToArray()), Wait);
    }
}
