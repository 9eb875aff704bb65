namespace Forge.Actors.Checkpointing;

/// <summary>A contiguous range [Start, Start+Length) of the flat parameter layout.</summary>
public readonly record struct FlatRange(long Start, long Length)
{
    public long End => Start + Length;

    /// <summary>Rank <paramref name="rank"/>'s equal share of a layout padded to a multiple of the world size.</summary>
    public static FlatRange ForRank(long paddedNumel, int worldSize, int rank)
    {
        if (worldSize < 1 || paddedNumel % worldSize != 0)
            throw new ArgumentException($"padded numel {paddedNumel} is not divisible by world size {worldSize}");
        if (rank < 0 || rank >= worldSize)
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [0, {worldSize})");
        var length = paddedNumel / worldSize;
        return new FlatRange(rank * length, length);
    }

    /// <summary>The layout size padded up to a multiple of <paramref name="worldSize"/>.</summary>
    public static long PaddedNumel(long numel, int worldSize) => (numel + worldSize - 1) / worldSize * worldSize;
}
