using System.Collections.Concurrent;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Model.Distributed;
using Forge.Model.Optim;
using Forge.Model.Training;

namespace Forge.Actors.Tests.Ranks.Fakes;

/// <summary>What a fake engine does when it runs a step.</summary>
public enum StepBehaviour { Succeed, Throw, HangInCollective }

/// <summary>
/// Builds <see cref="FakeRankEngine"/>s and records what happened to them. A step's behaviour is
/// chosen per (world epoch, rank, step), so a test can fail exactly one rank of one world.
/// </summary>
public sealed class FakeEngineFactory(long numel = 10) : IRankEngineFactory
{
    public ConcurrentQueue<FakeRankEngine> Engines { get; } = new();
    public ConcurrentBag<int> PreparedDevices { get; } = [];
    public Func<RankAssignment, long, StepBehaviour> Behaviour { get; set; } = (_, _) => StepBehaviour.Succeed;
    /// <summary>Assignments for which building the engine fails (a GPU out of memory, a bad device).</summary>
    public Func<RankAssignment, bool> FailsToBuild { get; set; } = _ => false;
    public TimeSpan StepDuration { get; set; } = TimeSpan.FromMilliseconds(5);
    public long Numel => numel;

    public void PrepareThread(int device) => PreparedDevices.Add(device);

    public IRankEngine Create(RankAssignment assignment, ICollectives collectives, OptimizerShard? restored)
    {
        if (FailsToBuild(assignment)) throw new InvalidOperationException($"fake engine for rank {assignment.Rank} cannot be built");
        var engine = new FakeRankEngine(this, assignment, (FakeCollectives)collectives, restored);
        Engines.Enqueue(engine);
        return engine;
    }

    /// <summary>Steps whose loss the fake reports as not finite (skipped on every rank of the world).</summary>
    public Func<RankAssignment, long, bool> Diverges { get; set; } = (_, _) => false;

    /// <summary>The fake's world values: the same on every rank of a world, as reduced values are.</summary>
    public static double WorldLoss(long step) => 2.0 + 0.01 * step;
    public const long WorldTokens = 100;
    /// <summary>The fake's rank value: each rank consumes a different number of samples.</summary>
    public static int RankSamples(int rank) => rank + 1;

    /// <summary>The master value of flat element `index` after `steps` optimizer steps: every element distinct.</summary>
    public static float MasterValue(long index, long steps) => index + 1000f * steps;
}

/// <summary>
/// An engine whose shard is a pure function of (global index, steps taken), so a restored shard
/// can be checked element by element against what the saving world held.
/// </summary>
public sealed class FakeRankEngine : IRankEngine
{
    private readonly FakeEngineFactory _factory;
    private readonly FakeCollectives _collectives;
    private readonly ShardRange _range;
    private long _stepsTaken;

    public FakeRankEngine(FakeEngineFactory factory, RankAssignment assignment, FakeCollectives collectives, OptimizerShard? restored)
    {
        _factory = factory;
        _collectives = collectives;
        Assignment = assignment;
        Restored = restored;
        _range = ShardRange.For(factory.Numel, assignment.Rank, assignment.WorldSize);
        _stepsTaken = restored?.Step ?? 0;
        Layout = new FlatLayoutInfo([new FlatParameter("w", [factory.Numel], 0, factory.Numel)], factory.Numel, _range.Length * assignment.WorldSize);
        ThreadIds.Add(Environment.CurrentManagedThreadId);
    }

    public RankAssignment Assignment { get; }
    public OptimizerShard? Restored { get; }
    public ConcurrentBag<int> ThreadIds { get; } = [];
    public ConcurrentQueue<long> StepsRun { get; } = new();
    public bool Disposed { get; private set; }
    public int Rank => Assignment.Rank;
    public int WorldSize => Assignment.WorldSize;
    public FlatLayoutInfo Layout { get; }

    public StepResult RunStep(long step)
    {
        ThreadIds.Add(Environment.CurrentManagedThreadId);
        StepsRun.Enqueue(step);
        switch (_factory.Behaviour(Assignment, step))
        {
            case StepBehaviour.Throw: throw new InvalidOperationException($"fake engine failure at step {step}");
            case StepBehaviour.HangInCollective: _collectives.HangUntilAborted(); break;
        }
        Thread.Sleep(_factory.StepDuration);
        var skipped = _factory.Diverges(Assignment, step);
        if (!skipped) _stepsTaken++;   // a skipped step leaves the shard as it was
        var timings = new StepTimings(0.001, 0.002 * (Rank + 1), 0.001, 0.001, 0.001, 0.005 * (Rank + 1));
        // World values are equal on every rank (as a real engine's reduced values are); rank values differ.
        return new StepResult(step, WorldLoss: FakeEngineFactory.WorldLoss(step), WorldTokens: FakeEngineFactory.WorldTokens,
            RankSamples: FakeEngineFactory.RankSamples(Rank), WorldGradNorm: 0.5, LearningRate: 1e-3, timings,
            Skipped: skipped);
    }

    public OptimizerShard SnapshotShard()
    {
        ThreadIds.Add(Environment.CurrentManagedThreadId);
        var master = new float[_range.Length];
        for (var i = 0; i < master.Length; i++)
            master[i] = _range.Start + i < _factory.Numel ? FakeEngineFactory.MasterValue(_range.Start + i, _stepsTaken) : 0f;
        return new OptimizerShard(_range.Start, _range.Length, master, (float[])master.Clone(), (float[])master.Clone(), _stepsTaken);
    }

    public void Dispose()
    {
        ThreadIds.Add(Environment.CurrentManagedThreadId);
        Disposed = true;
    }
}
