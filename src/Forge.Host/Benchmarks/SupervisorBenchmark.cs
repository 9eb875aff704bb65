using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Forge.Model.Evaluation;
using Forge.Actors.Checkpointing;
using Forge.Actors.Cluster;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Supervision;
using Forge.Model.Distributed;
using Forge.Model.Optim;
using Forge.Model.Training;

namespace Forge.Host.Benchmarks;

/// <summary>
/// `forge bench supervisor`: the control plane at W ranks, by simulation. Each world size runs the real
/// <see cref="JobSupervisor"/>, <see cref="RankHost"/> and <see cref="RankActor"/>s (each with its own
/// torch thread) in one process, over an engine that only sleeps for the step time and needs no
/// collectives. It times the barrier of every step, counts the step messages, weighs the process, then
/// kills one rank actor and times the re-formation up to the first completed step of the new world.
/// </summary>
public static class SupervisorBenchmark
{
    private static readonly TimeSpan PhaseTimeout = TimeSpan.FromMinutes(5);

    public static async Task<IReadOnlyList<SupervisorBenchmarkResult>> RunAsync(SupervisorBenchmarkOptions options, TextWriter output, CancellationToken ct = default)
    {
        if (options.Ranks.Count == 0 || options.Ranks.Any(w => w < 2))
            throw new ArgumentException($"--ranks {string.Join(",", options.Ranks)}: expected world sizes of at least 2 (one rank is killed)");
        if (options.Steps < 2) throw new ArgumentException($"--steps {options.Steps}: expected at least 2");
        if (options.StepTime < TimeSpan.Zero) throw new ArgumentException($"--step-ms {options.StepTime.TotalMilliseconds}: expected 0 or more");

        output.WriteLine($"supervisor control plane: {options.Steps} timed steps of {options.StepTime.TotalMilliseconds:F0} ms per world size, one process, fake engine");
        output.WriteLine("barrier = the supervisor passing step s's barrier (its last StepDone) to the last rank starting step s+1; fan-in = the last rank's end of step s to that barrier;");
        output.WriteLine("round trip = fan-in + barrier; messages counted at the ranks (StepDone in, RunStep out); heap = process GC heap growth with the job running");
        output.WriteLine($"{"ranks",6} {"form s",8} {"barrier median ms",18} {"barrier p99 ms",15} {"fan-in median ms",17} {"round trip ms",14} {"msgs in/step",13} {"msgs out/step",14} {"heap MiB",9} {"working set MiB",16} {"re-form s",10}");
        var results = new List<SupervisorBenchmarkResult>();
        foreach (var ranks in options.Ranks)
        {
            var r = await RunWorldAsync(ranks, options, ct).ConfigureAwait(false);
            results.Add(r);
            output.WriteLine($"{r.Ranks,6} {r.FormSeconds,8:F3} {r.BarrierMedianMs,18:F3} {r.BarrierP99Ms,15:F3} {r.FanInMedianMs,17:F3} {r.RoundTripMedianMs,14:F3} {r.MessagesInPerStep,13:F0} {r.MessagesOutPerStep,14:F0} " +
                             $"{r.HeapMiB,9:F1} {r.WorkingSetMiB,16:F1} {r.ReformSeconds,10:F3}");
        }
        return results;
    }

    private static async Task<SupervisorBenchmarkResult> RunWorldAsync(int ranks, SupervisorBenchmarkOptions options, CancellationToken ct)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var jobId = $"bench-supervisor-{ranks}";
        var settings = new JobSupervisorSettings
        {
            JobId = jobId,
            MaxSteps = long.MaxValue,          // the benchmark ends the job by shutting the system down
            CheckpointInterval = 0,            // no checkpoints: the control plane alone
            MinRanks = 1,
            MaxRanks = ranks,
            ExpectedRanks = ranks,
            FormationSettle = TimeSpan.Zero,
            GlobalBatchSize = ranks,
            FormTimeout = PhaseTimeout,
            StepTimeout = PhaseTimeout,
        };
        var marks = new StepMarks();
        var observer = new Observer(options.Steps + 1);
        var engines = new SleepingEngineFactory(options.StepTime, marks);
        // One store for the supervisor and every rank: a rank proves it writes the job's store before it gets work.
        var store = new NoCheckpointStore();
        var services = new RankServices { Engines = engines, Backend = new NoCollectivesBackend(), Store = store, JobId = jobId };
        var system = ActorSystem.Create(ForgeAkkaConfig.SystemName, ForgeAkkaConfig.SingleProcess());
        try
        {
            var start = Stopwatch.GetTimestamp();
            system.ActorOf(JobSupervisor.Props(settings, store, observer), JobSupervisor.Name);
            // Replacements would register during the measurement; an hour keeps the dead rank's slot empty.
            system.ActorOf(RankHost.Props(Enumerable.Repeat(services, ranks).ToList(), $"/user/{JobSupervisor.Name}", TimeSpan.FromHours(1)), "ranks");
            await observer.FirstWorldRan.Task.WaitAsync(PhaseTimeout, ct).ConfigureAwait(false);
            var formSeconds = Stopwatch.GetElapsedTime(start, observer.JobStartedAt).TotalSeconds;
            var heapMiB = (GC.GetTotalMemory(forceFullCollection: true) - heapBefore) / (1024.0 * 1024.0);
            var workingSetMiB = Process.GetCurrentProcess().WorkingSet64 / (1024.0 * 1024.0);
            var first = marks.FirstWorld(options.Steps, observer.BarrierPassedAt);

            // Slot k's first rank is named rank-k-k (one generation per spawn, in slot order).
            var victim = await system.ActorSelection($"/user/ranks/rank-{ranks - 1}-{ranks - 1}").ResolveOne(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            observer.ArmReformation();
            var killedAt = Stopwatch.GetTimestamp();
            victim.Tell(Kill.Instance);
            var reformedAt = await observer.Reformed.Task.WaitAsync(PhaseTimeout, ct).ConfigureAwait(false);
            return new SupervisorBenchmarkResult(ranks, formSeconds, Percentile(first.FanOutMs, 0.5), Percentile(first.FanOutMs, 0.99),
                Percentile(first.FanInMs, 0.5), Percentile(first.RoundTripMs, 0.5),
                first.DonesPerStep, first.RunsPerStep, heapMiB, workingSetMiB, Stopwatch.GetElapsedTime(killedAt, reformedAt).TotalSeconds);
        }
        finally
        {
            await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);
        }
    }

    /// <summary>Nearest-rank percentile of `values` in ms.</summary>
    private static double Percentile(IReadOnlyList<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        var index = Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1);
        return sorted[index];
    }

    /// <summary>Per (world, step): when the last rank started and ended it, and how many ranks did, in Stopwatch ticks.</summary>
    private sealed class StepMarks
    {
        private readonly ConcurrentDictionary<(long Epoch, long Step), Mark> _marks = new();

        public void Started(long epoch, long step, long at)
        {
            var mark = _marks.GetOrAdd((epoch, step), _ => new Mark());
            Interlocked.Increment(ref mark.Runs);
            Max(ref mark.LastStart, at);
        }

        public void Ended(long epoch, long step, long at)
        {
            var mark = _marks[(epoch, step)];
            Interlocked.Increment(ref mark.Dones);
            Max(ref mark.LastEnd, at);
        }

        /// <summary>
        /// Steps 1..steps of the first world, in ms: fan-in (the last rank's end of step s-1 to the supervisor
        /// passing its barrier), fan-out (that to the last rank's start of step s), their sum; and RunStep/StepDone per step.
        /// </summary>
        public FirstWorldFigures FirstWorld(int steps, IReadOnlyDictionary<long, long> barrierPassedAt)
        {
            var epoch = _marks.Keys.Min(k => k.Epoch);
            var fanIn = new List<double>();
            var fanOut = new List<double>();
            var roundTrip = new List<double>();
            long runs = 0, dones = 0;
            for (var step = 1; step <= steps; step++)
            {
                var previous = _marks[(epoch, step - 1)];
                var current = _marks[(epoch, step)];
                var passed = barrierPassedAt[step - 1];
                fanIn.Add(Stopwatch.GetElapsedTime(previous.LastEnd, passed).TotalMilliseconds);
                fanOut.Add(Stopwatch.GetElapsedTime(passed, current.LastStart).TotalMilliseconds);
                roundTrip.Add(Stopwatch.GetElapsedTime(previous.LastEnd, current.LastStart).TotalMilliseconds);
                runs += previous.Runs;
                dones += previous.Dones;
            }
            return new FirstWorldFigures(fanIn, fanOut, roundTrip, runs / (double)steps, dones / (double)steps);
        }

        private static void Max(ref long field, long value)
        {
            var seen = Volatile.Read(ref field);
            while (value > seen)
            {
                var found = Interlocked.CompareExchange(ref field, value, seen);
                if (found == seen) return;
                seen = found;
            }
        }

        private sealed class Mark
        {
            public long LastStart, LastEnd;
            public int Runs, Dones;
        }
    }

    private sealed record FirstWorldFigures(IReadOnlyList<double> FanInMs, IReadOnlyList<double> FanOutMs, IReadOnlyList<double> RoundTripMs,
        double RunsPerStep, double DonesPerStep);

    private sealed class Observer(int firstWorldSteps) : ITrainingObserver
    {
        private readonly ConcurrentDictionary<long, long> _barrierPassedAt = new();

        private int _steps;
        private volatile bool _armed, _newWorld;

        public long JobStartedAt { get; private set; }
        /// <summary>When the supervisor passed each first-world barrier: it reports the step right after its last StepDone.</summary>
        public IReadOnlyDictionary<long, long> BarrierPassedAt => _barrierPassedAt;
        public TaskCompletionSource FirstWorldRan { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource<long> Reformed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void ArmReformation() => _armed = true;

        public void OnJobStarted(JobStarted info) => JobStartedAt = Stopwatch.GetTimestamp();

        public void OnStep(StepReport report)
        {
            if (!_armed) _barrierPassedAt.TryAdd(report.Step, Stopwatch.GetTimestamp());
            if (++_steps == firstWorldSteps) FirstWorldRan.TrySetResult();
            if (_newWorld) Reformed.TrySetResult(Stopwatch.GetTimestamp());
        }

        public void OnEval(long step, HeldOutLosses losses) { }
        public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) { }

        public void OnMessage(string message)
        {
            if (_armed && message.Contains(" formed with ", StringComparison.Ordinal)) _newWorld = true;
        }

        public void OnJobFinished(JobFinished info)
        {
            var error = new InvalidOperationException($"the benchmark's job ended early: {info.Error}");
            FirstWorldRan.TrySetException(error);
            Reformed.TrySetException(error);
        }
    }

    private sealed class SleepingEngineFactory(TimeSpan stepTime, StepMarks marks) : IRankEngineFactory
    {
        private static readonly FlatLayoutInfo Layout = new([new FlatParameter("none", [1], 0, 1)], 1, 1);

        public void PrepareThread(int device) { }

        public IRankEngine Create(RankAssignment assignment, ICollectives collectives, OptimizerShard? restored) =>
            new SleepingEngine(assignment, Layout, stepTime, marks);
    }

    private sealed class SleepingEngine(RankAssignment assignment, FlatLayoutInfo layout, TimeSpan stepTime, StepMarks marks) : IRankEngine
    {
        public int Rank => assignment.Rank;
        public int WorldSize => assignment.WorldSize;
        public FlatLayoutInfo Layout => layout;

        public StepResult RunStep(long step)
        {
            marks.Started(assignment.WorldEpoch, step, Stopwatch.GetTimestamp());
            if (stepTime > TimeSpan.Zero) Thread.Sleep(stepTime);
            marks.Ended(assignment.WorldEpoch, step, Stopwatch.GetTimestamp());
            return new StepResult(step, WorldLoss: 0, WorldTokens: 0, RankSamples: 1, WorldGradNorm: 0, LearningRate: 0,
                new StepTimings(0, stepTime.TotalSeconds, 0, 0, 0, stepTime.TotalSeconds));
        }

        public OptimizerShard SnapshotShard() => throw new NotSupportedException("the supervisor benchmark takes no checkpoints");

        public void Dispose() { }
    }

    /// <summary>The engine never calls a collective; each rank gets a group of one to satisfy the join.</summary>
    private sealed class NoCollectivesBackend : ICollectiveBackend
    {
        public string Name => "none";
        public byte[] CreateGroupId() => [];
        public ICollectives Join(byte[] groupId, int rank, int worldSize, TimeSpan timeout) => new SingleRankCollectives();
    }

    /// <summary>No checkpoint is ever taken (interval 0, and the job never reaches max_steps).</summary>
    private sealed class NoCheckpointStore : ICheckpointStore
    {
        public Task<ShardReceipt> SaveShardAsync(string jobId, long step, int rank, OptimizerShard shard, CancellationToken ct = default) =>
            throw new NotSupportedException("the supervisor benchmark takes no checkpoints");
        public Task CommitAsync(CheckpointManifest manifest, CancellationToken ct = default) =>
            throw new NotSupportedException("the supervisor benchmark takes no checkpoints");
        public Task<CheckpointManifest?> LatestAsync(string jobId, CancellationToken ct = default) => Task.FromResult<CheckpointManifest?>(null);
        public Task<IReadOnlyList<CheckpointManifest>> ListAsync(string jobId, CancellationToken ct = default) => Task.FromResult<IReadOnlyList<CheckpointManifest>>([]);
        public Task<OptimizerShard> LoadRangeAsync(CheckpointManifest manifest, long start, long length, CancellationToken ct = default) =>
            throw new NotSupportedException("the supervisor benchmark takes no checkpoints");

        // The job record is real: every simulated rank proves the store as a real one does.
        private JobRecord? _record;
        public string Location => "the supervisor benchmark's memory";
        public Task<IReadOnlyList<string>> MissingChunksAsync(CheckpointManifest manifest, CancellationToken ct = default) =>
            throw new NotSupportedException("the supervisor benchmark takes no checkpoints");
        public Task WriteJobRecordAsync(JobRecord record, CancellationToken ct = default)
        {
            Volatile.Write(ref _record, record);
            return Task.CompletedTask;
        }
        public Task<JobRecord?> ReadJobRecordAsync(string jobId, CancellationToken ct = default) => Task.FromResult(Volatile.Read(ref _record));
        public Task AppendEventAsync(string jobId, string json, CancellationToken ct = default) => Task.CompletedTask;
        public Task<IReadOnlyList<string>> ReadEventsAsync(string jobId, CancellationToken ct = default) => Task.FromResult<IReadOnlyList<string>>([]);
    }
}
