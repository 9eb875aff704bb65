using Forge.Model.Optim;
using System.Text.Json;
using Akka.Actor;
using Akka.Serialization;
using Forge.Actors.Checkpointing;
using Forge.Actors.Cluster;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Supervision;
using Forge.Model.Training;

namespace Forge.Actors.Tests.Cluster;

public sealed class ForgeMessageSerializerTests() : Akka.TestKit.Xunit2.TestKit(ForgeAkkaConfig.SingleProcess())
{
    private static readonly FlatLayoutInfo Layout = new([new FlatParameter("tok.weight", [4, 3], 0, 12), new FlatParameter("norm", [3], 12, 3)], 15, 16);

    private static readonly CheckpointManifest Manifest = new()
    {
        JobId = "job",
        Step = 40,
        WorldSize = 2,
        Layout = Layout,
        Shards = [new ShardReceipt(0, 0, 8, [new ChunkInfo(0, 96, "ab12")]), new ShardReceipt(1, 8, 8, [new ChunkInfo(0, 96, "cd34")])],
        DataEpoch = 1,
        DataPosition = 17,
        SamplesConsumed = 1280,
        RngSeed = 42,
        SchedulerStep = 40,
        FrozenParameters = ["norm"],
        ModelConfigHash = "feed",
        CommittedAt = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero),
    };

    public static TheoryData<IForgeMessage> Messages() =>
    [
        new RankRegistered("job"),
        new CreateGroup(3),
        new JoinWorld(new RankAssignment("job", 3, 1, 2, [1, 2, 3, 255], GlobalBatchSize: 8), Manifest),
        new JoinWorld(new RankAssignment("job", 3, 1, 2, [7], GlobalBatchSize: 8), null),
        new RunStep(3, 41),
        new SaveShard(3, 42),
        new AbortStep(3, "peer lost"),
        new LeaveJob("done"),
        new RegisterRank("node-a", 1),
        new StopJob("SIGINT on the seed"),
        new ProveStore("job", "0A1B", "SQLite file /runs/job/checkpoints.db"),
        new StoreProof(new RegisterRank("node-a", 1, "job", "feed"), "0A1B", "SQLite file /runs/job/checkpoints.db"),
        new StoreProof(new RegisterRank("node-a", 1), null, "PostgreSQL db:5432/forge", "could not be read"),
        new GroupCreated(3, [9, 8, 7]),
        new WorldJoined(3, 1, Layout),
        new JoinFailed(3, 1, "no GPU"),
        new StepDone(3, 1, new StepResult(41, 2.5, 512, 4, 0.75, 3e-4, new StepTimings(0.1, 0.2, 0.3, 0.4, 0.5, 1.5))),
        new StepsDone(3, 41, [new StepDone(3, 1, new StepResult(41, 2.5, 512, 4, 0.75, 3e-4, new StepTimings(0.1, 0.2, 0.3, 0.4, 0.5, 1.5))),
            new StepDone(3, 2, new StepResult(41, 2.5, 512, 4, 0.75, 3e-4, new StepTimings(0.1, 0.2, 0.3, 0.4, 0.5, 1.6)))]),
        new StepFailed(3, 1, 41, "CollectiveException: peer closed", true),
        new StepAborted(3, 1),
        new ShardSaved(3, 42, Manifest.Shards[1], 0.05),
        new ShardSaveFailed(3, 42, 1, "disk full"),
        new JoinWorld(new RankAssignment("job", 4, 0, 1, [7], GlobalBatchSize: 8), Manifest,
            new MemoryRestore(3, 43, 5504, 2, 130, [new ReplicaSource(0, "10.0.0.1:4100"), new ReplicaSource(1, "10.0.0.2:4100")])),
        new WorldJoined(3, 1, Layout, "10.0.0.2:4100"),
        new JoinFailed(4, 0, "copy gone", MemoryCopyLost: true),
        new ReplicateShard(3, 43, 5504, "10.0.0.2:4100", [new ReplicaStep(3, 42)], 1),
        new ShardReplicated(3, 43, 1, 0.002),
        new ShardReplicationFailed(3, 43, 1, "buddy refused"),
        new RankRegistered("job", [1, 2, 3, 250]),
        new RegisterReplicaHolder("job", "127.0.0.1:4054", "127.0.0.1:41000"),
        new RegisterReplicaHolder("job", "127.0.0.1:4054", "127.0.0.1:41000", new ReplicaInventory("127.0.0.1:41000", [new HeldCopy(3, 42, 0, 0, 130, 5376)])),
        new ReplicaHolderRegistered("job", [9, 8, 7]),
        new ReplicaHolderRegistered("job", [9, 8, 7], KeepHeld: true),
        new RetainReplicas("job", [new ReplicaStep(3, 42), new ReplicaStep(3, 43)]),
    ];

    [Theory]
    [MemberData(nameof(Messages))]
    public void EveryProtocolMessageSurvivesTheWireUnchanged(IForgeMessage message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<ForgeMessageSerializer>(serializer);

        var bytes = serializer.ToBinary(message);
        var back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, Serialization.ManifestFor(serializer, message));

        // Records compare collections by reference, so equality is checked on the canonical JSON.
        Assert.Equal(message.GetType(), back.GetType());
        Assert.Equal(JsonSerializer.Serialize(message, message.GetType()), JsonSerializer.Serialize(back, back.GetType()));
    }

    [Fact]
    public void AWorldJoinedNamesItsStepRelayAsAReferenceThatReachesTheSameActor()
    {
        var relay = CreateTestProbe();
        var message = new WorldJoined(3, 1, Layout, "10.0.0.2:4100", relay.Ref);
        var serializer = Sys.Serialization.FindSerializerFor(message);

        var back = (WorldJoined)Sys.Serialization.Deserialize(serializer.ToBinary(message), serializer.Identifier, Serialization.ManifestFor(serializer, message));

        Assert.Equal(relay.Ref, back.Relay);
        back.Relay!.Tell("through the relay");
        relay.ExpectMsg("through the relay");
        Assert.Null(((WorldJoined)Sys.Serialization.Deserialize(serializer.ToBinary(message with { Relay = null }), serializer.Identifier,
            Serialization.ManifestFor(serializer, message))).Relay);
    }

    [Fact]
    public void EveryProtocolMessageTypeIsCoveredByTheRoundTripTest()
    {
        var covered = ((IEnumerable<object[]>)Messages()).Select(row => row[0].GetType()).ToHashSet();
        var all = typeof(IForgeMessage).Assembly.GetTypes().Where(t => !t.IsAbstract && typeof(IForgeMessage).IsAssignableFrom(t));
        Assert.All(all, t => Assert.Contains(t, covered));
    }

    [Fact]
    public void AnUnknownManifestNamesItself()
    {
        var serializer = (SerializerWithStringManifest)Sys.Serialization.FindSerializerForType(typeof(RunStep));
        var error = Assert.ThrowsAny<Exception>(() => serializer.FromBinary("{}"u8.ToArray(), "NoSuchMessage"));
        Assert.Contains("NoSuchMessage", error.Message);
    }

    [Fact]
    public void ASeedThatIsNotHostAndPortIsRejectedWithTheValue()
    {
        var error = Assert.Throws<ArgumentException>(() => ForgeAkkaConfig.Address("node-7"));
        Assert.Contains("node-7", error.Message);
        Assert.Equal("akka.tcp://forge@10.0.0.5:4053", ForgeAkkaConfig.Address("10.0.0.5:4053"));
    }
}
