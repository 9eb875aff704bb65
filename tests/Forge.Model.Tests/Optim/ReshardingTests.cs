using Forge.Model.Optim;

namespace Forge.Model.Tests.Optim;

public class ReshardingTests
{
    private const long Numel = 23;

    [Theory]
    [InlineData(3, 2)]
    [InlineData(2, 4)]
    [InlineData(4, 1)]
    [InlineData(1, 3)]
    public void ShardsOfOneWorldSizeReassembleIntoAnyOther(int fromWorld, int toWorld)
    {
        var full = Enumerable.Range(0, (int)Numel).Select(i => (float)i + 1).ToArray();
        var old = Shard(full, fromWorld);
        var newLength = (Numel + toWorld - 1) / toWorld;
        var rebuilt = new List<float>();
        for (var r = 0; r < toWorld; r++)
        {
            var shard = Resharding.Assemble(old, r * newLength, newLength, Numel);
            Assert.Equal(r * newLength, shard.Start);
            Assert.Equal(42, shard.Step);
            Assert.Equal(shard.Master.Select(v => -v), shard.ExpAvg);
            rebuilt.AddRange(shard.Master);
        }
        Assert.Equal(full, rebuilt.Take((int)Numel));
        Assert.All(rebuilt.Skip((int)Numel), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void AMissingShardIsReportedWithTheUncoveredRange()
    {
        var old = Shard(Enumerable.Range(0, (int)Numel).Select(i => (float)i).ToArray(), 3);
        var error = Assert.Throws<ArgumentException>(() => Resharding.Assemble([old[0], old[2]], 0, 12, Numel));
        Assert.Contains("[0, 12)", error.Message);
    }

    private static OptimizerShard[] Shard(float[] full, int worldSize)
    {
        var length = (full.Length + worldSize - 1) / worldSize;
        return Enumerable.Range(0, worldSize).Select(r =>
        {
            var master = new float[length];
            for (var i = 0; i < length && r * length + i < full.Length; i++) master[i] = full[r * length + i];
            return new OptimizerShard(r * length, length, master, master.Select(v => -v).ToArray(), master.Select(v => v * v).ToArray(), 42);
        }).ToArray();
    }
}
