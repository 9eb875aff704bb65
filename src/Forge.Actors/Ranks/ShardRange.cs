namespace Forge.Actors.Ranks;

/// <summary>
/// Rank r's contiguous slice of a flat layout of `numel` elements padded to a multiple of the world
/// size: every rank owns ceil(numel / world) elements, the last ones possibly padding.
/// </summary>
public readonly record struct ShardRange(long Start, long Length)
{
    public static ShardRange For(long numel, int rank, int worldSize)
    {
        if (worldSize <= 0) throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "world size must be positive");
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [0, {worldSize})");
        var length = (numel + worldSize - 1) / worldSize;
        return new ShardRange(rank * length, length);
    }

    /// <summary>The part of this range that holds real parameters (the rest is padding, always zero).</summary>
    public long StoredLength(long numel) => Math.Clamp(numel - Start, 0, Length);
}
