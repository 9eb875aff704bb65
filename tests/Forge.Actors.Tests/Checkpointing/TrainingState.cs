using System.Runtime.InteropServices;
using Forge.Actors.Checkpointing;
using Forge.Model.Optim;
using Forge.Model.Training;

namespace Forge.Actors.Tests.Checkpointing;

/// <summary>
/// A whole (unsharded) optimizer state over a small flat layout with an odd element count, so
/// that every world size of 2..4 pads it differently. Values are random bit patterns of finite
/// floats, including negative zero and subnormals, so "bit-exact" means every bit.
/// </summary>
public sealed class TrainingState
{
    public FlatLayoutInfo Layout { get; }
    public float[] Master { get; }
    public float[] ExpAvg { get; }
    public float[] ExpAvgSq { get; }
    public long OptimizerStep { get; }

    public TrainingState(int seed, long optimizerStep = 5)
    {
        Layout = TinyLayout;
        var random = new Random(seed);
        Master = RandomFloats(random, Layout.Numel);
        ExpAvg = RandomFloats(random, Layout.Numel);
        ExpAvgSq = RandomFloats(random, Layout.Numel);
        OptimizerStep = optimizerStep;
    }

    /// <summary>65 elements: 35 + 25 + 5, as a model's embedding, a projection and a norm.</summary>
    public static FlatLayoutInfo TinyLayout { get; } = new(
    [
        new FlatParameter("tok_embeddings.weight", [7, 5], 0, 35),
        new FlatParameter("layers.0.attention.wq.weight", [5, 5], 35, 25),
        new FlatParameter("norm.weight", [5], 60, 5),
    ], Numel: 65, PaddedNumel: 65);

    /// <summary>Rank <paramref name="rank"/>'s shard in a world of <paramref name="worldSize"/> (padding is zeros).</summary>
    public OptimizerShard ShardFor(int worldSize, int rank)
    {
        var range = ShardRange.For(ShardRange.PaddedNumel(Layout.Numel, worldSize), rank, worldSize);
        return new OptimizerShard(range.Start, range.Length, Slice(Master, range), Slice(ExpAvg, range), Slice(ExpAvgSq, range), OptimizerStep);
    }

    /// <summary>Saves every rank's shard and commits the manifest.</summary>
    public async Task<CheckpointManifest> SaveAndCommitAsync(ICheckpointStore store, string jobId, long step, int worldSize, string configHash = "config-a")
    {
        var receipts = new List<ShardReceipt>();
        for (var rank = 0; rank < worldSize; rank++)
            receipts.Add(await store.SaveShardAsync(jobId, step, rank, ShardFor(worldSize, rank)));
        var manifest = ManifestFor(jobId, step, worldSize, receipts, configHash);
        await store.CommitAsync(manifest);
        return manifest;
    }

    public CheckpointManifest ManifestFor(string jobId, long step, int worldSize, IReadOnlyList<ShardReceipt> receipts, string configHash = "config-a") => new()
    {
        JobId = jobId,
        Step = step,
        WorldSize = worldSize,
        Layout = Layout with { PaddedNumel = ShardRange.PaddedNumel(Layout.Numel, worldSize) },
        Shards = receipts,
        DataEpoch = 1,
        DataPosition = 17 * step,
        SamplesConsumed = 32 * step,
        RngSeed = 1234,
        SchedulerStep = step,
        FrozenParameters = ["norm.weight"],
        ModelConfigHash = configHash,
    };

    /// <summary>Asserts that <paramref name="shard"/> holds exactly this state's bits over its range (zeros past the layout).</summary>
    public void AssertBitExact(OptimizerShard shard)
    {
        var range = new ShardRange(shard.Start, shard.Length);
        Assert.Equal(OptimizerStep, shard.Step);
        AssertBits(Slice(Master, range), shard.Master, "master");
        AssertBits(Slice(ExpAvg, range), shard.ExpAvg, "exp_avg");
        AssertBits(Slice(ExpAvgSq, range), shard.ExpAvgSq, "exp_avg_sq");
    }

    public static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var e = MemoryMarshal.Cast<float, uint>(expected);
        var a = MemoryMarshal.Cast<float, uint>(actual);
        for (var i = 0; i < e.Length; i++)
            if (e[i] != a[i])
                Assert.Fail($"{what}[{i}]: expected bits 0x{e[i]:x8}, got 0x{a[i]:x8}");
    }

    private static float[] Slice(float[] full, ShardRange range)
    {
        var slice = new float[range.Length];
        var available = Math.Max(0, Math.Min(full.LongLength, range.End) - range.Start);
        Array.Copy(full, range.Start, slice, 0, available);
        return slice;
    }

    private static float[] RandomFloats(Random random, long count)
    {
        var values = new float[count];
        for (var i = 0; i < values.Length; i++)
        {
            var bits = (uint)random.NextInt64(0, 1L << 32);
            var f = BitConverter.UInt32BitsToSingle(bits);
            values[i] = float.IsFinite(f) ? f : -0.0f;
        }
        values[0] = -0.0f;
        values[1] = BitConverter.UInt32BitsToSingle(1); // smallest subnormal
        return values;
    }
}
