using System.Diagnostics;
using Forge.Model.Optim;
using Forge.Model.Training;

namespace Forge.Actors.Checkpointing;

/// <summary>
/// Measures a checkpoint store: write and read throughput of a whole checkpoint, and the training
/// stall per checkpoint when shards go through the background <see cref="CheckpointWriter"/>
/// while a simulated training loop keeps stepping. The stall is the time the training loop is
/// blocked: the host copy of the shard plus any wait for a queue slot.
/// </summary>
public static class CheckpointBenchmark
{
    public static async Task<CheckpointBenchmarkResult> RunAsync(SqlCheckpointStore store, CheckpointBenchmarkOptions options, TextWriter output, CancellationToken ct = default)
    {
        var jobId = $"bench-{Guid.NewGuid():N}";
        var numel = options.StateMiB * CheckpointStoreSettings.MiB / ShardChunkFormat.BytesPerElement;
        var layout = new FlatLayoutInfo([new FlatParameter("state", [numel], 0, numel)], numel, FlatRange.PaddedNumel(numel, options.Ranks));
        var ranges = Enumerable.Range(0, options.Ranks).Select(r => FlatRange.ForRank(layout.PaddedNumel, options.Ranks, r)).ToArray();
        // "On the device": the live shards training keeps updating; a checkpoint copies them.
        var live = ranges.Select(r => Filled(r, seed: r.Start)).ToArray();
        var stateMiB = ranges.Sum(r => r.Length) * (double)ShardChunkFormat.BytesPerElement / CheckpointStoreSettings.MiB;
        output.WriteLine($"store        : {store.Settings.Kind}, chunks of {store.Settings.ChunkBytes / (double)CheckpointStoreSettings.MiB:F0} MiB, {store.Settings.MaxParallelWrites} parallel writer(s)");
        output.WriteLine($"state        : {stateMiB:F1} MiB in {options.Ranks} shard(s) (fp32 master + 2 AdamW moments)");

        try
        {
            // 1. A whole checkpoint, written directly: the store's write throughput.
            var clock = Stopwatch.StartNew();
            var receipts = await Task.WhenAll(ranges.Select((_, rank) => store.SaveShardAsync(jobId, 1, rank, live[rank], ct)));
            var writeSeconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            var manifest = Manifest(jobId, 1, layout, receipts);
            await store.CommitAsync(manifest, ct);
            var commitSeconds = clock.Elapsed.TotalSeconds;
            output.WriteLine($"write        : {writeSeconds,8:F2} s  {stateMiB / writeSeconds,8:F1} MiB/s  (commit {commitSeconds * 1000:F0} ms)");

            // 2. Read it back, every chunk verified against its checksum.
            clock.Restart();
            var loaded = await Task.WhenAll(ranges.Select(r => store.LoadRangeAsync(manifest, r.Start, r.Length, ct)));
            var readSeconds = clock.Elapsed.TotalSeconds;
            for (var r = 0; r < ranges.Length; r++)
                if (!loaded[r].Master.AsSpan().SequenceEqual(live[r].Master) || !loaded[r].ExpAvgSq.AsSpan().SequenceEqual(live[r].ExpAvgSq))
                    throw new InvalidDataException($"benchmark read-back of rank {r} differs from what was written");
            output.WriteLine($"read         : {readSeconds,8:F2} s  {stateMiB / readSeconds,8:F1} MiB/s  (checksums verified)");

            // 3. Training with background checkpoints: how long is the step loop blocked?
            var (stalls, copies, durable) = await SimulateTrainingAsync(store, jobId, layout, ranges, live, options, ct);
            for (var i = 0; i < stalls.Count; i++)
                output.WriteLine($"checkpoint {i + 1,-2}: stall {stalls[i] * 1000,8:F1} ms (host copy {copies[i] * 1000:F1} ms, queue wait {(stalls[i] - copies[i]) * 1000:F1} ms)   durable after {durable[i],6:F2} s");
            output.WriteLine($"stall        : {stalls.Average() * 1000:F1} ms mean per checkpoint (a synchronous save would block {writeSeconds + commitSeconds:F2} s)");
            return new CheckpointBenchmarkResult(stateMiB, writeSeconds, commitSeconds, readSeconds, stalls, copies, durable);
        }
        finally
        {
            await store.DeleteJobAsync(jobId, CancellationToken.None);
        }
    }

    private static async Task<(List<double> Stalls, List<double> Copies, List<double> Durable)> SimulateTrainingAsync(
        SqlCheckpointStore store, string jobId, FlatLayoutInfo layout, FlatRange[] ranges, OptimizerShard[] live,
        CheckpointBenchmarkOptions options, CancellationToken ct)
    {
        var writers = ranges.Select(_ => new CheckpointWriter(store, capacity: 1)).ToArray();
        var stalls = new List<double>();
        var copies = new List<double>();
        var durable = new List<double>();
        var commits = new List<Task>();
        try
        {
            for (var checkpoint = 0; checkpoint < options.Checkpoints; checkpoint++)
            {
                for (var step = 0; step < options.StepsPerCheckpoint; step++)
                    await Task.Delay(options.StepTime, ct);

                var checkpointStep = 2 + checkpoint;
                var stall = Stopwatch.StartNew();
                // Stands in for IRankEngine.SnapshotShard: the device-to-host copy the step path pays.
                var copiesOffDevice = live.Select(shard => shard with
                {
                    Master = (float[])shard.Master.Clone(),
                    ExpAvg = (float[])shard.ExpAvg.Clone(),
                    ExpAvgSq = (float[])shard.ExpAvgSq.Clone(),
                }).ToArray();
                copies.Add(stall.Elapsed.TotalSeconds);
                var queued = new QueuedShardSave[ranges.Length];
                for (var rank = 0; rank < ranges.Length; rank++)
                    queued[rank] = await writers[rank].EnqueueAsync(jobId, checkpointStep, rank, copiesOffDevice[rank], ct);
                stalls.Add(stall.Elapsed.TotalSeconds);
                var since = Stopwatch.StartNew();
                commits.Add(CommitWhenDurableAsync(store, jobId, checkpointStep, layout, queued, since, durable, ct));
            }
            await Task.WhenAll(commits);
        }
        finally
        {
            foreach (var writer in writers) await writer.DisposeAsync();
        }
        return (stalls, copies, durable);
    }

    private static async Task CommitWhenDurableAsync(SqlCheckpointStore store, string jobId, long step, FlatLayoutInfo layout,
        QueuedShardSave[] queued, Stopwatch since, List<double> durable, CancellationToken ct)
    {
        var receipts = await Task.WhenAll(queued.Select(q => q.Durable));
        lock (durable) durable.Add(since.Elapsed.TotalSeconds);
        await store.CommitAsync(Manifest(jobId, step, layout, receipts), ct);
    }

    private static CheckpointManifest Manifest(string jobId, long step, FlatLayoutInfo layout, IReadOnlyList<ShardReceipt> receipts) => new()
    {
        JobId = jobId, Step = step, WorldSize = receipts.Count, Layout = layout, Shards = receipts,
        DataEpoch = 0, DataPosition = 0, SamplesConsumed = 0, RngSeed = 0, SchedulerStep = step,
        FrozenParameters = [], ModelConfigHash = "benchmark",
    };

    private static OptimizerShard Filled(FlatRange range, long seed)
    {
        var random = new Random(unchecked((int)seed));
        float[] Values()
        {
            var values = new float[range.Length];
            for (var i = 0; i < values.Length; i++) values[i] = random.NextSingle();
            return values;
        }
        return new OptimizerShard(range.Start, range.Length, Values(), Values(), Values(), Step: 1);
    }
}
