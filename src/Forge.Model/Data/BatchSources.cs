using Forge.Model.Config;

namespace Forge.Model.Data;

/// <summary>
/// A process's batch sources over one training set, one per global batch size. The global batch size is
/// fixed by the job's supervisor, not by this process (a node does not know the first world's size), so
/// the source is made when the first world tells it, and every rank of the process shares it.
/// </summary>
public sealed class BatchSources(ImageTextDataset dataset, DataConfig data) : IDisposable
{
    private readonly Dictionary<int, PrefetchingBatchSource> _sources = [];
    private bool _disposed;

    /// <summary>The training set of data.manifest, as the job config describes it (with its data.augment_* augmentation).</summary>
    public static BatchSources Open(JobConfig config) => new(ImageTextDataset.Training(config), config.Data);

    public ImageTextDataset Dataset { get; } = dataset;

    /// <summary>The source that serves global batches of <paramref name="globalBatchSize"/> samples.</summary>
    public IBatchSource For(int globalBatchSize)
    {
        if (globalBatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(globalBatchSize), globalBatchSize, "the global batch size must be at least 1");
        lock (_sources)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_sources.TryGetValue(globalBatchSize, out var source))
                _sources[globalBatchSize] = source = new PrefetchingBatchSource(Dataset, globalBatchSize, data.Seed, data.NumWorkers, data.Prefetch);
            return source;
        }
    }

    /// <summary>The data cursor after <paramref name="completedSteps"/> steps of <paramref name="globalBatchSize"/> samples.</summary>
    public DataCursor CursorAfter(long completedSteps, int globalBatchSize) =>
        new DeterministicSampler(Dataset.Count, data.Seed, globalBatchSize).CursorAfter(completedSteps);

    public void Dispose()
    {
        lock (_sources)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var source in _sources.Values) source.Dispose();
            _sources.Clear();
        }
    }
}
