using System.Diagnostics;
using Forge.Actors.Checkpointing;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Model.Distributed;
using Forge.Model.Optim;
using Forge.Model.Training;

namespace Forge.Host.Benchmarks;

/// <summary>
/// The ranks of `forge bench supervisor`: real <see cref="RankActor"/>s over an engine that only spends the step
/// time, needs no collectives and takes no checkpoints, in the supervisor's process or in a child process.
/// </summary>
internal static class SimulatedRanks
{
    /// <summary>One rank's services; every rank of a process shares them.</summary>
    public static RankServices Services(string jobId, TimeSpan stepTime, SimulatedRankThreads threads, StepMarks marks, ICheckpointStore store) => new()
    {
        Engines = new SleepingEngineFactory(stepTime, threads, marks),
        Backend = new NoCollectivesBackend(),
        Store = store,
        JobId = jobId,
        StartThread = threads == SimulatedRankThreads.Pooled
            ? (name, prepare) => new PooledRankThread(name, prepare)
            : (name, prepare) => new RankThread(name, prepare),
    };

    private sealed class SleepingEngineFactory(TimeSpan stepTime, SimulatedRankThreads threads, StepMarks marks) : IRankEngineFactory
    {
        private static readonly FlatLayoutInfo Layout = new([new FlatParameter("none", [1], 0, 1)], 1, 1);

        public void PrepareThread(int device) { }

        public IRankEngine Create(RankAssignment assignment, ICollectives collectives, OptimizerShard? restored)
        {
            marks.Joined(assignment.WorldEpoch);
            return new SleepingEngine(assignment, Layout, stepTime, threads, marks);
        }
    }

    private sealed class SleepingEngine(RankAssignment assignment, FlatLayoutInfo layout, TimeSpan stepTime, SimulatedRankThreads threads, StepMarks marks)
        : IRankEngine
    {
        public int Rank => assignment.Rank;
        public int WorldSize => assignment.WorldSize;
        public FlatLayoutInfo Layout => layout;

        public StepResult RunStep(long step)
        {
            var epoch = assignment.WorldEpoch;
            marks.Started(epoch, step, Stopwatch.GetTimestamp());
            if (threads == SimulatedRankThreads.Pooled)
                PooledRankThread.Spend(stepTime, () => marks.Ended(epoch, step, Stopwatch.GetTimestamp()));
            else
            {
                if (stepTime > TimeSpan.Zero) Thread.Sleep(stepTime);
                marks.Ended(epoch, step, Stopwatch.GetTimestamp());
            }
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
}

/// <summary>
/// The store of `forge bench supervisor`: no checkpoint is ever taken (interval 0, and the job never reaches
/// max_steps), but the job record is real, so every simulated rank proves the store as a real one does. The
/// record lives in one file that the supervisor's process writes and the child processes read, as every
/// process of a real job reads one SQLite file or PostgreSQL database.
/// </summary>
internal sealed class BenchJobStore(string recordFile) : ICheckpointStore
{
    public string Location => $"the supervisor benchmark's job record file {recordFile}";

    public async Task WriteJobRecordAsync(JobRecord record, CancellationToken ct = default)
    {
        // Written whole, then moved into place: a reader never sees half a record.
        var partial = recordFile + ".partial";
        await File.WriteAllBytesAsync(partial, record.ToJson(), ct).ConfigureAwait(false);
        File.Move(partial, recordFile, overwrite: true);
    }

    public async Task<JobRecord?> ReadJobRecordAsync(string jobId, CancellationToken ct = default)
    {
        if (!File.Exists(recordFile)) return null;
        return JobRecord.FromJson(await File.ReadAllBytesAsync(recordFile, ct).ConfigureAwait(false), jobId);
    }

    public Task<ShardReceipt> SaveShardAsync(string jobId, long step, int rank, OptimizerShard shard, CancellationToken ct = default) =>
        throw new NotSupportedException("the supervisor benchmark takes no checkpoints");
    public Task CommitAsync(CheckpointManifest manifest, CancellationToken ct = default) =>
        throw new NotSupportedException("the supervisor benchmark takes no checkpoints");
    public Task<CheckpointManifest?> LatestAsync(string jobId, CancellationToken ct = default) => Task.FromResult<CheckpointManifest?>(null);
    public Task<IReadOnlyList<CheckpointManifest>> ListAsync(string jobId, CancellationToken ct = default) => Task.FromResult<IReadOnlyList<CheckpointManifest>>([]);
    public Task<OptimizerShard> LoadRangeAsync(CheckpointManifest manifest, long start, long length, CancellationToken ct = default) =>
        throw new NotSupportedException("the supervisor benchmark takes no checkpoints");
    public Task<IReadOnlyList<string>> MissingChunksAsync(CheckpointManifest manifest, CancellationToken ct = default) =>
        throw new NotSupportedException("the supervisor benchmark takes no checkpoints");
    public Task AppendEventAsync(string jobId, string json, CancellationToken ct = default) => Task.CompletedTask;
    public Task<IReadOnlyList<string>> ReadEventsAsync(string jobId, CancellationToken ct = default) => Task.FromResult<IReadOnlyList<string>>([]);
}
