using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Forge.Actors.Checkpointing;
using Forge.Actors.Cluster;
using Forge.Actors.Collectives;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Supervision;
using Forge.Model.Config;
using Forge.Model.Distributed;
using Forge.Model.Evaluation;
using Forge.Model.Optim;
using Forge.Model.Training;
using static TorchSharp.torch;

namespace Forge.Host.Benchmarks;

/// <summary>
/// The training half of `forge bench checkpoint`: a real job (supervisor, rank host, rank actors, the
/// CPU collective backend, the store) whose engines hold only their live optimizer shard and sleep for
/// the step time. Checkpoints go exactly the product's way: SaveShard, CaptureShard on the rank's
/// torch thread into reused host buffers, the write in the background, the manifest commit.
/// </summary>
internal static class CheckpointBenchmarkTraining
{
    public sealed record Checkpoint(long Step, double StallSeconds, double WriteSeconds);

    public sealed record Outcome(IReadOnlyList<Checkpoint> Checkpoints, IReadOnlyList<string> Deferrals, long Steps, double WallSeconds, double StepSeconds);

    public static async Task<Outcome> RunAsync(ICheckpointStore store, FlatLayoutInfo layout, ShardRange[] ranges, ShardedAdamW[] live,
        Device device, CheckpointBenchmarkOptions options, CancellationToken ct)
    {
        var jobId = $"bench-train-{Guid.NewGuid():N}";
        var steps = (long)options.Checkpoints * options.StepsPerCheckpoint;
        var settings = new JobSupervisorSettings
        {
            JobId = jobId,
            MaxSteps = steps,
            CheckpointInterval = options.StepsPerCheckpoint,
            MinRanks = ranges.Length,
            MaxRanks = ranges.Length,
            ExpectedRanks = ranges.Length,
            FormationSettle = TimeSpan.Zero,
            GlobalBatchSize = ranges.Length,
        };
        var observer = new Recorder();
        var engines = new ShardEngineFactory(layout, ranges, live, device, options.StepTime);
        var backend = CollectiveBackends.For(new DistributedConfig { Backend = "tcp" }, CPU, "127.0.0.1");
        var system = ActorSystem.Create(ForgeAkkaConfig.SystemName, ForgeAkkaConfig.SingleProcess());
        var clock = Stopwatch.StartNew();
        try
        {
            var supervisor = system.ActorOf(JobSupervisor.Props(settings, store, observer), JobSupervisor.Name);
            var finished = supervisor.Ask<JobFinished>(AwaitJobFinished.Instance, ct);
            var slots = ranges.Select(_ => new RankServices { Engines = engines, Backend = backend, Store = store, Device = -1, JobId = jobId }).ToList();
            system.ActorOf(RankHost.Props(slots, $"/user/{JobSupervisor.Name}"), "ranks");
            var result = await finished.ConfigureAwait(false);
            if (!result.Completed) throw new InvalidOperationException($"the benchmark's training job did not complete: {result.Error}");
            return new Outcome(observer.Checkpoints.OrderBy(c => c.Step).ToList(), observer.Deferrals.ToList(), steps,
                clock.Elapsed.TotalSeconds, steps * options.StepTime.TotalSeconds);
        }
        finally
        {
            await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);
            if (store is SqlCheckpointStore sql) await sql.DeleteJobAsync(jobId, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private sealed class Recorder : ITrainingObserver
    {
        public ConcurrentBag<Checkpoint> Checkpoints { get; } = [];
        public ConcurrentQueue<string> Deferrals { get; } = new();
        public void OnJobStarted(JobStarted info) { }
        public void OnStep(StepReport report) { }
        public void OnEval(long step, HeldOutLosses losses) { }
        public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) => Checkpoints.Add(new Checkpoint(step, stallSeconds, writeSeconds));
        public void OnMessage(string message) { if (message.Contains("deferred", StringComparison.Ordinal)) Deferrals.Enqueue(message); }
        public void OnJobFinished(JobFinished info) { }
    }

    /// <summary>Hands rank r the live shard r of the benchmark (the shards outlive the job).</summary>
    private sealed class ShardEngineFactory(FlatLayoutInfo layout, ShardRange[] ranges, ShardedAdamW[] live, Device device, TimeSpan stepTime) : IRankEngineFactory
    {
        public void PrepareThread(int _) { }

        public IRankEngine Create(RankAssignment assignment, ICollectives collectives, OptimizerShard? restored) =>
            new ShardEngine(assignment, layout, ranges[assignment.Rank], live[assignment.Rank], device, stepTime);
    }

    private sealed class ShardEngine(RankAssignment assignment, FlatLayoutInfo layout, ShardRange range, ShardedAdamW shard, Device device, TimeSpan stepTime) : IRankEngine
    {
        private ShardSnapshotBuffers? _buffers;

        public int Rank => assignment.Rank;
        public int WorldSize => assignment.WorldSize;
        public FlatLayoutInfo Layout => layout;

        public StepResult RunStep(long step)
        {
            Thread.Sleep(stepTime);
            return new StepResult(step, WorldLoss: 0, WorldTokens: 0, RankSamples: 1, WorldGradNorm: 0, LearningRate: 0,
                new StepTimings(0, stepTime.TotalSeconds, 0, 0, 0, stepTime.TotalSeconds));
        }

        public OptimizerShard SnapshotShard() => shard.Snapshot(range.Start);

        // The rank's checkpoint path: reused host buffers, page-locked on CUDA (as ShardedRankEngine does).
        public ShardSnapshot CaptureShard()
        {
            _buffers ??= new ShardSnapshotBuffers(shard.Length, device);
            return _buffers.Capture(shard, range.Start);
        }

        public void Dispose() => _buffers?.Dispose();
    }
}
