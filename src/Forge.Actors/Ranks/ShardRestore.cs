using Forge.Actors.Checkpointing;
using Forge.Model.Optim;

namespace Forge.Actors.Ranks;

/// <summary>Reads a rank's slice of a committed checkpoint, whatever world size saved it.</summary>
internal static class ShardRestore
{
    public static async Task<OptimizerShard> LoadAsync(ICheckpointStore store, CheckpointManifest manifest, int rank, int worldSize, CancellationToken ct)
    {
        var range = ShardRange.For(manifest.Layout.Numel, rank, worldSize);
        var stored = range.StoredLength(manifest.Layout.Numel);
        // Only real parameters are read: the new world's padding may extend past what any old
        // world saved, and padding is zero by definition.
        var loaded = stored > 0
            ? await store.LoadRangeAsync(manifest, range.Start, stored, ct).ConfigureAwait(false)
            : new OptimizerShard(range.Start, 0, [], [], [], manifest.SchedulerStep);
        if (loaded.Start != range.Start || loaded.Length != stored)
            throw new InvalidOperationException(
                $"checkpoint of job '{manifest.JobId}' at step {manifest.Step} returned [{loaded.Start}, {loaded.Start + loaded.Length}) for requested [{range.Start}, {range.Start + stored})");
        return stored == range.Length ? loaded : PadTo(loaded, range);
    }

    private static OptimizerShard PadTo(OptimizerShard shard, ShardRange range)
    {
        float[] Pad(float[] values)
        {
            var padded = new float[range.Length];
            values.CopyTo(padded, 0);
            return padded;
        }
        return new OptimizerShard(range.Start, range.Length, Pad(shard.Master), Pad(shard.ExpAvg), Pad(shard.ExpAvgSq), shard.Step);
    }
}
