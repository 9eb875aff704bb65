using System.Collections.Concurrent;
using Forge.Model.Config;

namespace Forge.Model.Data;

/// <summary>
/// The data set behind <see cref="IBatchSource"/>: <see cref="DeterministicSampler"/> picks the
/// rows, and background threads decode and collate them ahead of the step that needs them.
/// <para>
/// After serving step s for (world, rank, micro-batch size) it schedules steps s+1 … s+prefetch
/// for the same key, one job per row, on a fixed set of loader threads (FIFO, so the nearest step
/// finishes first). A request that was not prefetched (the first step, a world-size change, a
/// rollback to a checkpoint) is decoded synchronously on the caller's thread: same result, just
/// not ahead of time. Memory is bounded by prefetch steps per rank; on a world-size change every
/// prefetched slice of the old world is dropped.
/// </para>
/// <para>
/// Loader threads fill plain arrays; tensors are created on the caller's thread (see
/// <see cref="CollatedBatch"/>), and the caller owns and disposes them. One instance may serve
/// several ranks of one process at once.
/// </para>
/// </summary>
public sealed class PrefetchingBatchSource : IBatchSource
{
    private readonly object _gate = new();
    private readonly Dictionary<SliceKey, PendingSlice> _ahead = [];
    private readonly BlockingCollection<RowJob> _jobs = new();
    private readonly Thread[] _loaders;
    private readonly int _prefetch;
    private long _prefetchHits;
    private long _prefetchMisses;
    private bool _disposed;

    public PrefetchingBatchSource(ImageTextDataset dataset, int globalBatchSize, long seed, int workers = 0, int prefetch = 4)
    {
        if (prefetch < 0) throw new ArgumentOutOfRangeException(nameof(prefetch), prefetch, "data.prefetch must be zero or positive");
        if (workers < 0) throw new ArgumentOutOfRangeException(nameof(workers), workers, "data.num_workers must be zero (automatic) or positive");
        Dataset = dataset;
        Sampler = new DeterministicSampler(dataset.Count, seed, globalBatchSize);
        _prefetch = prefetch;
        var loaderCount = workers > 0 ? workers : Math.Min(4, Environment.ProcessorCount);
        _loaders = new Thread[prefetch == 0 ? 0 : loaderCount];
        for (var i = 0; i < _loaders.Length; i++)
        {
            _loaders[i] = new Thread(RunLoader) { IsBackground = true, Name = $"forge-data-{i}" };
            _loaders[i].Start();
        }
    }

    /// <summary>The training source a job config describes: data.manifest, data.* settings, vlm.max_text_len.</summary>
    public static PrefetchingBatchSource Open(JobConfig config, int globalBatchSize) => new(
        ImageTextDataset.Training(config),
        globalBatchSize, config.Data.Seed, config.Data.NumWorkers, config.Data.Prefetch);

    public ImageTextDataset Dataset { get; }
    public DeterministicSampler Sampler { get; }
    public int GlobalBatchSize => Sampler.GlobalBatchSize;
    public int LoaderThreads => _loaders.Length;

    /// <summary>Requests served from prefetched work, and requests decoded synchronously.</summary>
    public (long Hits, long Misses) PrefetchStats => (Interlocked.Read(ref _prefetchHits), Interlocked.Read(ref _prefetchMisses));

    public IReadOnlyList<ImageTextBatch> MicroBatches(long step, int worldSize, int rank, int microBatchSize)
    {
        if (microBatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(microBatchSize), microBatchSize, "train.batch_size must be positive");
        DeterministicSampler.RankSlice(GlobalBatchSize, worldSize, rank); // validates world and rank
        var key = new SliceKey(step, worldSize, rank, microBatchSize);

        PendingSlice? ready;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _ahead.Remove(key, out ready);
            DropStale(key);
            for (var ahead = 1; ahead <= _prefetch; ahead++)
            {
                var next = key with { Step = step + ahead };
                if (!_ahead.ContainsKey(next)) _ahead[next] = Schedule(next);
            }
        }

        CollatedBatch[] collated;
        if (ready is null)
        {
            Interlocked.Increment(ref _prefetchMisses);
            collated = CollateNow(key);
        }
        else
        {
            Interlocked.Increment(ref _prefetchHits);
            ready.Done.Task.GetAwaiter().GetResult(); // rethrows a loader's error (file and line) as it was
            collated = ready.MicroBatches;
        }
        return [.. collated.Select(batch => batch.ToBatch())];
    }

    public DataCursor CursorAfter(long completedSteps) => Sampler.CursorAfter(completedSteps);

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var slice in _ahead.Values) slice.Cancelled = true;
            _ahead.Clear();
        }
        _jobs.CompleteAdding();
        foreach (var loader in _loaders) loader.Join();
        _jobs.Dispose();
    }

    /// <summary>Drops prefetched slices that can no longer be asked for: another world, or this rank's passed, re-shaped or far-off steps.</summary>
    private void DropStale(SliceKey served)
    {
        List<SliceKey>? stale = null;
        foreach (var key in _ahead.Keys)
        {
            var sameRank = key.Rank == served.Rank;
            if (key.WorldSize != served.WorldSize
                || (sameRank && (key.MicroBatchSize != served.MicroBatchSize || key.Step <= served.Step || key.Step > served.Step + _prefetch)))
                (stale ??= []).Add(key);
        }
        if (stale is null) return;
        foreach (var key in stale)
        {
            _ahead.Remove(key, out var slice);
            slice!.Cancelled = true;
        }
    }

    /// <summary>The slice's micro-batches: the sampler's indices for the rank, in micro-batch-sized chunks.</summary>
    private IEnumerable<(int[] Rows, long[] SampleIndices)> Layout(SliceKey key) =>
        Sampler.SampleIndices(key.Step, key.WorldSize, key.Rank)
            .Chunk(key.MicroBatchSize)
            .Select(chunk => (chunk.Select(Sampler.DatasetRow).ToArray(), chunk));

    private CollatedBatch[] CollateNow(SliceKey key) =>
        [.. Layout(key).Select(batch => Dataset.Collate(batch.Rows, batch.SampleIndices))];

    private PendingSlice Schedule(SliceKey key)
    {
        CollatedBatch[] batches = [.. Layout(key).Select(batch => Dataset.Allocate(batch.Rows, batch.SampleIndices))];
        var slice = new PendingSlice(batches, batches.Sum(b => b.Rows));
        for (var b = 0; b < batches.Length; b++)
            for (var i = 0; i < batches[b].Rows; i++)
                _jobs.Add(new RowJob(slice, b, i));
        return slice;
    }

    private void RunLoader()
    {
        foreach (var job in _jobs.GetConsumingEnumerable())
        {
            var slice = job.Slice;
            if (slice.Cancelled || slice.Done.Task.IsCompleted) continue;
            try
            {
                Dataset.Decode(slice.MicroBatches[job.MicroBatch], job.Row);
                slice.RowDone();
            }
            catch (Exception e)
            {
                slice.Done.TrySetException(e);
            }
        }
    }

    private readonly record struct SliceKey(long Step, int WorldSize, int Rank, int MicroBatchSize);

    private readonly record struct RowJob(PendingSlice Slice, int MicroBatch, int Row);

    private sealed class PendingSlice
    {
        private int _remaining;

        public PendingSlice(CollatedBatch[] microBatches, int rows)
        {
            MicroBatches = microBatches;
            _remaining = rows;
            if (rows == 0) Done.SetResult();
        }

        public CollatedBatch[] MicroBatches { get; }
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public volatile bool Cancelled;

        public void RowDone()
        {
            if (Interlocked.Decrement(ref _remaining) == 0) Done.TrySetResult();
        }
    }
}
