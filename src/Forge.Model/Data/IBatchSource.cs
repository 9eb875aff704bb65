namespace Forge.Model.Data;

/// <summary>
/// The deterministic source of a rank's data. The global sample order is a per-epoch permutation
/// of the data seed; step s's global batch is samples [s*G, (s+1)*G) of that order (G = global
/// batch size, constant across world sizes), and rank r of W takes a fixed contiguous slice of it
/// (slices differ by at most one sample). So any world size sees exactly the same samples.
/// </summary>
public interface IBatchSource : IDisposable
{
    int GlobalBatchSize { get; }

    /// <summary>Rank r's part of step s's global batch, split into micro-batches of at most microBatchSize.</summary>
    IReadOnlyList<ImageTextBatch> MicroBatches(long step, int worldSize, int rank, int microBatchSize);

    /// <summary>The data cursor after `step` completed steps: (epoch, position within the epoch).</summary>
    DataCursor CursorAfter(long completedSteps);
}

/// <summary>Where the sampler stands: the epoch and the position inside that epoch's permutation.</summary>
public sealed record DataCursor(long Epoch, long Position, long SamplesConsumed);
