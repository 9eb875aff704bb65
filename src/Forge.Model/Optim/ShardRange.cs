namespace Forge.Model.Optim;

/// <summary>
/// A contiguous range [Start, End) of the flat parameter vector. Rank r of W owns
/// <see cref="For"/>(numel, r, W): ceil(numel / W) elements, the last ones possibly padding. The one
/// definition of a shard, used by the layout, the engine, checkpoints and resharding alike.
/// </summary>
public readonly record struct ShardRange(long Start, long Length)
{
    public long End => Start + Length;

    /// <summary>Rank <paramref name="rank"/>'s equal share of a layout of <paramref name="numel"/> elements padded to a multiple of the world size.</summary>
    public static ShardRange For(long numel, int rank, int worldSize)
    {
        if (worldSize <= 0) throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "world size must be positive");
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [0, {worldSize})");
        var length = (numel + worldSize - 1) / worldSize;
        return new ShardRange(rank * length, length);
    }

    /// <summary>The layout size padded up to a multiple of <paramref name="worldSize"/>.</summary>
    public static long PaddedNumel(long numel, int worldSize) => (numel + worldSize - 1) / worldSize * worldSize;

    /// <summary>The part of this range that holds real parameters (the rest is padding, always zero).</summary>
    public long StoredLength(long numel) => Math.Clamp(numel - Start, 0, Length);
}
