using System.Diagnostics;
using Forge.Actors.Checkpointing;
using Forge.Actors.Supervision;
using Forge.Model.Optim;
using Forge.Model.Config;
using Forge.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Host.Benchmarks;

/// <summary>
/// Measures a checkpoint store and the rank's checkpoint path: write and read throughput of a whole
/// checkpoint, the restore onto the device, and the training stall per checkpoint while a simulated
/// training loop keeps stepping. The optimizer shards live on the benchmark's device (a GPU when one
/// is visible). The training part runs the real <see cref="JobSupervisor"/> and rank actors over an
/// engine that only holds its shard (<see cref="CheckpointBenchmarkTraining"/>), so the checkpoint path measured is the product's.
/// </summary>
public static class CheckpointBenchmark
{
    public static async Task<CheckpointBenchmarkResult> RunAsync(SqlCheckpointStore store, CheckpointBenchmarkOptions options, TextWriter output, CancellationToken ct = default)
    {
        var jobId = $"bench-{Guid.NewGuid():N}";
        var numel = (long)options.StateMiB * CheckpointStoreSettings.MiB / ShardChunkFormat.BytesPerElement;
        var layout = new FlatLayoutInfo([new FlatParameter("state", [numel], 0, numel)], numel, ShardRange.PaddedNumel(numel, options.Ranks));
        var ranges = Enumerable.Range(0, options.Ranks).Select(r => ShardRange.For(layout.PaddedNumel, r, options.Ranks)).ToArray();
        var device = options.Device ?? (torch.cuda.is_available() ? torch.CUDA : torch.CPU);
        // The live shards training keeps updating on the device; a checkpoint copies them off.
        var live = ranges.Select(r => LiveShard(r, device, seed: r.Start)).ToArray();
        var buffers = live.Select(o => new ShardSnapshotBuffers(o.Length, device)).ToArray();
        var stateMiB = ranges.Sum(r => r.Length) * (double)ShardChunkFormat.BytesPerElement / CheckpointStoreSettings.MiB;
        output.WriteLine($"store        : {store.Settings.Kind}, chunks of {store.Settings.ChunkBytes / (double)CheckpointStoreSettings.MiB:F0} MiB, {store.Settings.Writers} parallel writer(s)" +
                         (store.Settings.Kind == CheckpointStoreKind.Sqlite ? $" in {store.Settings.Parts} file(s)" : ""));
        output.WriteLine($"state        : {stateMiB:F1} MiB in {options.Ranks} shard(s) (fp32 master + 2 AdamW moments) on {device}" +
                         (device.type == DeviceType.CUDA ? $", host buffers {(buffers.All(b => b.PageLocked) ? "page-locked" : "pageable (cudaHostRegister refused)")}" : ""));

        try
        {
            // 1. A whole checkpoint, written directly: the first copy off the device, then the store's write throughput.
            var clock = Stopwatch.StartNew();
            var first = ranges.Select((r, rank) => buffers[rank].Capture(live[rank], r.Start)).ToArray();
            var firstCopySeconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            var receipts = await Task.WhenAll(ranges.Select((_, rank) => store.SaveShardAsync(jobId, 1, rank, first[rank].Shard, ct)));
            var writeSeconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            var manifest = Manifest(jobId, 1, layout, receipts);
            await store.CommitAsync(manifest, ct);
            var commitSeconds = clock.Elapsed.TotalSeconds;
            output.WriteLine($"copy off {device.type.ToString().ToLowerInvariant(),-4}: {firstCopySeconds,8:F2} s  {stateMiB / firstCopySeconds,8:F1} MiB/s  (first checkpoint)");
            output.WriteLine($"write        : {writeSeconds,8:F2} s  {stateMiB / writeSeconds,8:F1} MiB/s  (commit {commitSeconds * 1000:F0} ms)");

            // 2. Read it back, every chunk verified against its checksum, and restore it onto the device.
            var readFrom = options.DropPageCache ? DropPageCache() : "page cache as the write left it";
            clock.Restart();
            var loaded = await Task.WhenAll(ranges.Select(r => store.LoadRangeAsync(manifest, r.Start, r.Length, ct)));
            var readSeconds = clock.Elapsed.TotalSeconds;
            for (var r = 0; r < ranges.Length; r++)
                if (!loaded[r].Master.AsSpan().SequenceEqual(first[r].Shard.Master) || !loaded[r].ExpAvgSq.AsSpan().SequenceEqual(first[r].Shard.ExpAvgSq))
                    throw new InvalidDataException($"benchmark read-back of rank {r} differs from what was written");
            foreach (var snapshot in first) snapshot.Dispose();
            clock.Restart();
            for (var r = 0; r < ranges.Length; r++) live[r].Load(loaded[r]);
            if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
            var loadSeconds = clock.Elapsed.TotalSeconds;
            output.WriteLine($"read         : {readSeconds,8:F2} s  {stateMiB / readSeconds,8:F1} MiB/s  (checksums verified; {readFrom})");
            output.WriteLine($"onto {device.type.ToString().ToLowerInvariant(),-8}: {loadSeconds,8:F2} s  (restore = read + this: {readSeconds + loadSeconds:F2} s)");

            // 3. Training with background checkpoints, through the product's path: the real supervisor and rank
            //    actors, each rank's engine holding its live shard on the device. The stall is what a rank's step
            //    path paid (the copy off the device); the job's wall time over its steps' shows any wait on top.
            var training = await CheckpointBenchmarkTraining.RunAsync(store, layout, ranges, live, device, options, ct);
            for (var i = 0; i < training.Checkpoints.Count; i++)
                output.WriteLine($"checkpoint {i + 1,-2}: step {training.Checkpoints[i].Step,4}, stall {training.Checkpoints[i].StallSeconds * 1000,8:F1} ms, " +
                                 $"durable after {training.Checkpoints[i].WriteSeconds,6:F2} s");
            foreach (var message in training.Deferrals) output.WriteLine($"deferred     : {message}");
            var stalls = training.Checkpoints.Select(c => c.StallSeconds).ToList();
            output.WriteLine($"stall        : {stalls.Average() * 1000:F1} ms mean per checkpoint (a synchronous save would block {firstCopySeconds + writeSeconds + commitSeconds:F2} s); " +
                             $"{training.Deferrals.Count} deferred");
            output.WriteLine($"training     : {training.Steps} steps ({training.StepSeconds:F2} s of stepping) in a job of {training.WallSeconds:F2} s; " +
                             "the rest is forming, joining, and the end of the job waiting for its final checkpoint to be durable");
            return new CheckpointBenchmarkResult(stateMiB, firstCopySeconds, writeSeconds, commitSeconds, readSeconds, loadSeconds,
                stalls, training.Checkpoints.Select(c => c.WriteSeconds).ToList(), training.Deferrals.Count);
        }
        finally
        {
            foreach (var b in buffers) b.Dispose();
            foreach (var o in live) o.Dispose();
            await store.DeleteJobAsync(jobId, CancellationToken.None);
        }
    }

    /// <summary>Flushes dirty pages and drops the page cache; says where the read will come from.</summary>
    private static string DropPageCache()
    {
        try
        {
            Sync();
            File.WriteAllText("/proc/sys/vm/drop_caches", "3");
            return "page cache dropped: from the disk";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            return $"the page cache could not be dropped ({e.Message})";
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "sync")]
    private static extern void Sync();

    private static CheckpointManifest Manifest(string jobId, long step, FlatLayoutInfo layout, IReadOnlyList<ShardReceipt> receipts) => new()
    {
        JobId = jobId, Step = step, WorldSize = receipts.Count, Layout = layout, Shards = receipts,
        DataEpoch = 0, DataPosition = 0, SamplesConsumed = 0, RngSeed = 0, SchedulerStep = step,
        FrozenParameters = [], ModelConfigHash = "benchmark",
    };

    private static ShardedAdamW LiveShard(ShardRange range, Device device, long seed)
    {
        using var _ = torch.no_grad();
        // The process-wide generator: a torch.Generator made for a CUDA device crashes TorchSharp 0.107.
        torch.manual_seed(seed);
        var optimizer = new ShardedAdamW(torch.rand(range.Length, ScalarType.Float32, device), new OptimizerConfig(), fusedKernel: false);
        optimizer.ExpAvg.uniform_(0, 1);
        optimizer.ExpAvgSq.uniform_(0, 1);
        return optimizer;
    }
}
