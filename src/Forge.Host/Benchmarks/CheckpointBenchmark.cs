using System.Collections.Concurrent;
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

            // 2. Restore: read it back into the page-locked checkpoint buffers, every chunk streamed into place and
            //    verified against its checksum, each slice copied onto the device as soon as it is read, while the
            //    rest is still being read. The copies go to fresh device tensors, compared with the live shards after.
            var readFrom = options.DropPageCache ? DropPageCache() : "page cache as the write left it";
            var targets = first.Select(s => s.Shard).ToArray();
            var restored = live.Select(o => new[] { torch.empty(o.Length, ScalarType.Float32, device: device),
                torch.empty(o.Length, ScalarType.Float32, device: device), torch.empty(o.Length, ScalarType.Float32, device: device) }).ToArray();
            double readSeconds, loadSeconds, copySeconds, restoreCpuSeconds;
            long[] optimizerSteps;
            using (var copies = new SliceCopies(targets, restored, device))
            {
                var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                clock.Restart();
                optimizerSteps = await Task.WhenAll(ranges.Select((_, rank) =>
                    store.LoadRangeIntoAsync(manifest, targets[rank], (offset, count) => copies.Enqueue(rank, offset, count), ct)));
                readSeconds = clock.Elapsed.TotalSeconds;
                copySeconds = copies.Finish();
                loadSeconds = clock.Elapsed.TotalSeconds - readSeconds;
                // CPU seconds of the whole process over the restore: a cost that a loaded machine's wall time hides.
                restoreCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
            }
            for (var r = 0; r < ranges.Length; r++)
            {
                using var _ = torch.no_grad();
                if (optimizerSteps[r] != live[r].Step || !Same(restored[r][0], live[r].Master) || !Same(restored[r][1], live[r].ExpAvg) || !Same(restored[r][2], live[r].ExpAvgSq))
                    throw new InvalidDataException($"benchmark restore of rank {r} differs from what was written");
                foreach (var t in restored[r]) t.Dispose();
            }
            foreach (var snapshot in first) snapshot.Dispose();
            var restoreSeconds = readSeconds + loadSeconds;
            output.WriteLine($"read         : {readSeconds,8:F2} s  {stateMiB / readSeconds,8:F1} MiB/s  ({store.Settings.MaxParallelReads} readers, straight into the checkpoint host buffers, checksums verified; {readFrom})");
            output.WriteLine($"onto {device.type.ToString().ToLowerInvariant(),-8}: {loadSeconds,8:F2} s  after the last read (slice copies {copySeconds:F2} s in all, overlapped with the reads)");
            output.WriteLine($"restore      : {restoreSeconds,8:F2} s  {stateMiB / restoreSeconds,8:F1} MiB/s  (read + the copies the reads did not hide; {restoreCpuSeconds:F2} CPU s)");

            // 2b. A rank's resume as it is built today: the read into fresh arrays, then ShardedAdamW.Load copies them
            //     onto the device after the read (pageable memory, no overlap).
            var resumeFrom = options.DropPageCache ? DropPageCache() : "page cache as the restore left it";
            var resumeCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            clock.Restart();
            var loaded = await Task.WhenAll(ranges.Select(r => store.LoadRangeAsync(manifest, r.Start, r.Length, ct)));
            var resumeReadSeconds = clock.Elapsed.TotalSeconds;
            var resumeReadCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - resumeCpuBefore).TotalSeconds;
            clock.Restart();
            for (var r = 0; r < ranges.Length; r++) live[r].Load(loaded[r]);
            if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
            var resumeLoadSeconds = clock.Elapsed.TotalSeconds;
            output.WriteLine($"rank resume  : {resumeReadSeconds + resumeLoadSeconds,8:F2} s  = read into fresh arrays {resumeReadSeconds:F2} s ({stateMiB / resumeReadSeconds:F1} MiB/s, {resumeReadCpuSeconds:F2} CPU s; {resumeFrom}) " +
                             $"+ {resumeLoadSeconds:F2} s onto the {device.type.ToString().ToLowerInvariant()} after it (ShardedAdamW.Load)");

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
            return new CheckpointBenchmarkResult(stateMiB, firstCopySeconds, writeSeconds, commitSeconds, readSeconds, loadSeconds, copySeconds, resumeReadSeconds, resumeLoadSeconds,
                stalls, training.Checkpoints.Select(c => c.WriteSeconds).ToList(), training.Deferrals.Count);
        }
        finally
        {
            foreach (var b in buffers) b.Dispose();
            foreach (var o in live) o.Dispose();
            await store.DeleteJobAsync(jobId, CancellationToken.None);
        }
    }

    /// <summary>
    /// Copies restored slices from the host buffers onto the device on one thread of its own, in the order the
    /// reads finish them, so that the copies overlap the reads still running (a pipelined restore).
    /// </summary>
    private sealed class SliceCopies : IDisposable
    {
        private readonly BlockingCollection<(int Rank, long Offset, long Count)> _slices = new();
        private readonly Tensor[][] _host;
        private readonly Tensor[][] _device;
        private readonly Device _on;
        private readonly Thread _thread;
        private Exception? _failure;
        private double _busySeconds;

        public SliceCopies(IReadOnlyList<OptimizerShard> host, Tensor[][] device, Device on)
        {
            _host = host.Select(s => new[] { torch.from_array(s.Master), torch.from_array(s.ExpAvg), torch.from_array(s.ExpAvgSq) }).ToArray();
            _device = device;
            _on = on;
            _thread = new Thread(Run) { IsBackground = true, Name = "restore-copies" };
            _thread.Start();
        }

        public void Enqueue(int rank, long offset, long count) => _slices.Add((rank, offset, count));

        /// <summary>Waits for the queued copies to land on the device; returns the seconds spent copying.</summary>
        public double Finish()
        {
            _slices.CompleteAdding();
            _thread.Join();
            if (_failure is not null) throw new InvalidOperationException($"copying restored slices onto {_on} failed: {_failure.Message}", _failure);
            return _busySeconds;
        }

        private void Run()
        {
            try
            {
                using var _ = torch.no_grad();
                foreach (var (rank, offset, count) in _slices.GetConsumingEnumerable())
                {
                    var clock = Stopwatch.StartNew();
                    for (var state = 0; state < 3; state++)
                    {
                        using var to = _device[rank][state].narrow(0, offset, count);
                        using var from = _host[rank][state].narrow(0, offset, count);
                        to.copy_(from);
                    }
                    if (_on.type == DeviceType.CUDA) torch.cuda.synchronize(_on);
                    _busySeconds += clock.Elapsed.TotalSeconds;
                }
            }
            catch (Exception e)
            {
                _failure = e;
                foreach (var _ in _slices.GetConsumingEnumerable()) { }   // let the readers finish; the failure surfaces in Finish
            }
        }

        public void Dispose()
        {
            // After a failed read: stop the thread without a second error on top of the read's.
            _slices.CompleteAdding();
            _thread.Join();
            foreach (var t in _host.SelectMany(h => h)) t.Dispose();
            _slices.Dispose();
        }
    }

    private static bool Same(Tensor restored, Tensor written) => restored.allclose(written, rtol: 0, atol: 0);

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
