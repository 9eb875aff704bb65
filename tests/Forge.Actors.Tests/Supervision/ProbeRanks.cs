using Forge.Model.Optim;
using Akka.Actor;
using Akka.TestKit;
using Forge.Actors.Checkpointing;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Supervision;
using Forge.Model.Training;

namespace Forge.Actors.Tests.Supervision;

/// <summary>
/// Test probes standing in for rank actors, so a test controls exactly when each "rank" answers
/// the supervisor and can observe every message it gets.
/// </summary>
internal sealed class ProbeRanks(TestKitBase kit, IActorRef supervisor)
{
    public static readonly FlatLayoutInfo Layout = new([new FlatParameter("w", [10], 0, 10)], 10, 12);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    public List<TestProbe> All { get; } = [];

    public TestProbe Register(string node = "test")
    {
        var probe = kit.CreateTestProbe();
        RegisterAgain(probe, node);
        All.Add(probe);
        return probe;
    }

    /// <summary>Registers `probe` (again): the registration, the store proof it is asked for, and the supervisor's acceptance.</summary>
    public void RegisterAgain(TestProbe probe, string node = "test")
    {
        var registration = new RegisterRank(node, -1);
        probe.Send(supervisor, registration);
        // A probe shares the supervisor's store, so it reads the very token it is asked for.
        var prove = probe.ExpectMsg<ProveStore>(Wait);
        probe.Send(supervisor, new StoreProof(registration, prove.Token, prove.StoreLocation));
        probe.ExpectMsg<RankRegistered>(Wait);
    }

    /// <summary>Answers the formation of a world of `world` (in rank order); returns its epoch and what each rank was told.</summary>
    public (long Epoch, JoinWorld[] Joins) Form(params TestProbe[] world) => Form(world.Select(_ => "").ToArray(), world);

    /// <summary>As <see cref="Form(TestProbe[])"/>, each rank reporting its process's replica endpoint.</summary>
    public (long Epoch, JoinWorld[] Joins) Form(string[] replicaEndpoints, params TestProbe[] world)
    {
        var create = world[0].ExpectMsg<CreateGroup>(Wait);
        Say(world[0], new GroupCreated(create.WorldEpoch, [1, 2, 3]));
        var joins = world.Select(p => p.ExpectMsg<JoinWorld>(Wait)).ToArray();
        for (var i = 0; i < world.Length; i++)
        {
            Assert.Equal(i, joins[i].Assignment.Rank);
            Say(world[i], new WorldJoined(create.WorldEpoch, i, Layout, replicaEndpoints[i]));
        }
        return (create.WorldEpoch, joins);
    }

    public static RunStep ExpectRunStep(TestProbe probe, long step)
    {
        var run = probe.ExpectMsg<RunStep>(Wait);
        Assert.Equal(step, run.Step);
        return run;
    }

    /// <summary>`probe` sends `message` to the supervisor (as the rank it stands for).</summary>
    public void Say(TestProbe probe, object message) => probe.Send(supervisor, message);

    public void ReportStep(TestProbe probe, long epoch, int rank, long step) =>
        Say(probe, new StepDone(epoch, rank, Result(step, rank)));

    /// <summary>Every rank of `world` runs `step` to completion.</summary>
    public void RunStep(long epoch, long step, params TestProbe[] world)
    {
        foreach (var probe in world) ExpectRunStep(probe, step);
        for (var rank = 0; rank < world.Length; rank++) ReportStep(world[rank], epoch, rank, step);
    }

    public static ShardSaved Saved(long epoch, long step, int rank) =>
        new(epoch, step, new ShardReceipt(rank, rank * 4L, 4, [new ChunkInfo(0, 48, $"c{rank}")]), 0.01);

    /// <summary>What rank `rank` reports: world values equal on every rank (as reduced values are), rank values not.</summary>
    public static StepResult Result(long step, int rank) =>
        new(step, WorldLoss: 2.0, WorldTokens: 100, RankSamples: rank + 1, WorldGradNorm: 0.5, LearningRate: 1e-3,
            new StepTimings(0, 0.01 * (rank + 1), 0, 0, 0, 0.02 * (rank + 1)));
}
