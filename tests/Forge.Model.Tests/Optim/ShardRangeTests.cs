
using Forge.Model.Optim;

namespace Forge.Model.Tests.Optim;

public sealed class ShardRangeTests
{
    [Theory]
    [InlineData(10, 1)]
    [InlineData(10, 3)]
    [InlineData(10, 4)]
    [InlineData(7, 7)]
    [InlineData(5, 8)]
    public void RangesOfAWorldAreEqualContiguousAndCoverEveryParameter(long numel, int world)
    {
        var ranges = Enumerable.Range(0, world).Select(r => ShardRange.For(numel, r, world)).ToArray();
        Assert.All(ranges, r => Assert.Equal(ranges[0].Length, r.Length));
        for (var r = 1; r < world; r++) Assert.Equal(ranges[r - 1].Start + ranges[r - 1].Length, ranges[r].Start);
        var padded = ranges[0].Length * world;
        Assert.InRange(padded - numel, 0, world - 1);               // padding is less than one element per rank
        Assert.Equal(numel, ranges.Sum(r => r.StoredLength(numel)));
    }

    [Fact]
    public void ARankThatOwnsOnlyPaddingStoresNothing() =>
        Assert.Equal(0, ShardRange.For(5, 7, 8).StoredLength(5));

    [Fact]
    public void ARankOutsideTheWorldIsRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ShardRange.For(10, 3, 3));
}
