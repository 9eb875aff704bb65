namespace Forge.Model.Data;

/// <summary>
/// The global sample order and its slicing, as pure functions of (data seed, data set size,
/// global batch size), so any world size at any step agrees on which samples come next.
/// <list type="bullet">
/// <item>Global sample index g (0, 1, 2, … over the whole run) lies in epoch g / N at position
///   g % N; its data set row is that epoch's permutation at that position.</item>
/// <item>Step s's global batch is g in [s*G, (s+1)*G); it may straddle an epoch boundary.</item>
/// <item>Rank r of W takes a contiguous slice of it: the first G % W ranks get one sample more.</item>
/// </list>
/// So changing the world size between steps continues exactly where the last step ended.
/// </summary>
public sealed class DeterministicSampler
{
    private readonly object _gate = new();
    // A step straddles at most two epochs, so two cached permutations cover every lookup.
    private (long Epoch, int[] Order)? _current, _previous;

    public DeterministicSampler(int datasetSize, long seed, int globalBatchSize)
    {
        if (datasetSize <= 0) throw new ArgumentOutOfRangeException(nameof(datasetSize), datasetSize, "the data set is empty");
        if (globalBatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(globalBatchSize), globalBatchSize, "train.global_batch_size must be positive");
        DatasetSize = datasetSize;
        Seed = seed;
        GlobalBatchSize = globalBatchSize;
    }

    public int DatasetSize { get; }
    public long Seed { get; }
    public int GlobalBatchSize { get; }

    /// <summary>Rank r's part of a global batch of G samples: its offset inside the batch and its size.</summary>
    public static (int Offset, int Count) RankSlice(int globalBatchSize, int worldSize, int rank)
    {
        if (worldSize <= 0) throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "world size must be positive");
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must lie in [0, {worldSize})");
        var share = globalBatchSize / worldSize;
        var extra = globalBatchSize % worldSize;
        return (rank * share + Math.Min(rank, extra), share + (rank < extra ? 1 : 0));
    }

    /// <summary>The global sample indices rank r of W reads at step s, in order.</summary>
    public long[] SampleIndices(long step, int worldSize, int rank)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "step must be non-negative");
        var (offset, count) = RankSlice(GlobalBatchSize, worldSize, rank);
        var first = step * GlobalBatchSize + offset;
        var indices = new long[count];
        for (var i = 0; i < count; i++) indices[i] = first + i;
        return indices;
    }

    /// <summary>The data set row behind global sample index g.</summary>
    public int DatasetRow(long globalSampleIndex)
    {
        if (globalSampleIndex < 0) throw new ArgumentOutOfRangeException(nameof(globalSampleIndex), globalSampleIndex, "must be non-negative");
        var epoch = globalSampleIndex / DatasetSize;
        return Permutation(epoch)[globalSampleIndex % DatasetSize];
    }

    public DataCursor CursorAfter(long completedSteps)
    {
        if (completedSteps < 0) throw new ArgumentOutOfRangeException(nameof(completedSteps), completedSteps, "must be non-negative");
        var consumed = completedSteps * GlobalBatchSize;
        return new DataCursor(consumed / DatasetSize, consumed % DatasetSize, consumed);
    }

    /// <summary>Epoch e's order of the data set rows (a Fisher-Yates shuffle seeded by (seed, e)). The array is shared: do not modify it.</summary>
    public int[] Permutation(long epoch)
    {
        lock (_gate)
        {
            if (_current is { } current && current.Epoch == epoch) return current.Order;
            if (_previous is { } previous && previous.Epoch == epoch) return previous.Order;
            var order = Shuffle(DatasetSize, Seed, epoch);
            _previous = _current;
            _current = (epoch, order);
            return order;
        }
    }

    /// <summary>
    /// A hand-written generator (SplitMix64) rather than System.Random: a checkpoint taken under
    /// one .NET version must resume with the same order under the next, and System.Random's
    /// seeded sequence is not promised to stay the same across versions.
    /// </summary>
    internal static int[] Shuffle(int count, long seed, long epoch)
    {
        var order = new int[count];
        for (var i = 0; i < count; i++) order[i] = i;
        var state = SplitMix64.Mix((ulong)seed ^ SplitMix64.Mix((ulong)epoch + 0x9E3779B97F4A7C15UL));
        for (var i = count - 1; i > 0; i--)
        {
            // Multiply-shift maps 64 random bits onto [0, i]; its bias (< i / 2^64) is immaterial.
            var j = (int)Math.BigMul(SplitMix64.Next(ref state), (ulong)(i + 1), out _);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    private static class SplitMix64
    {
        public static ulong Next(ref ulong state) => Mix(state += 0x9E3779B97F4A7C15UL);

        public static ulong Mix(ulong z)
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
