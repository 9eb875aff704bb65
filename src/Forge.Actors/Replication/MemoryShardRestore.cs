using Forge.Actors.Protocol;
using Forge.Model.Optim;

namespace Forge.Actors.Replication;

/// <summary>
/// Builds a rank's shard of a new world from the copies of an old world's step held in memory: the
/// pieces of the old shards that overlap the new range, fetched from their holders (this process's own
/// store directly), resharded as a checkpoint restore would be.
/// </summary>
public static class MemoryShardRestore
{
    /// <param name="local">This process's replica channel, read without a socket; null when it has none.</param>
    /// <param name="secret">The job's replica secret, which every holder's channel asks for.</param>
    /// <exception cref="ReplicaUnavailableException">A copy is gone or damaged: the restore must come from elsewhere.</exception>
    public static async Task<OptimizerShard> LoadAsync(string jobId, MemoryRestore restore, int rank, int worldSize, ReplicaServer? local, byte[] secret,
        CancellationToken ct)
    {
        var range = ShardRange.For(restore.Numel, rank, worldSize);
        var end = range.Start + range.StoredLength(restore.Numel);
        var fetches = new List<Task<OptimizerShard>>();
        foreach (var source in restore.Sources)
        {
            var old = ShardRange.For(restore.Numel, source.OwnerRank, restore.SourceWorldSize);
            var from = Math.Max(range.Start, old.Start);
            var to = Math.Min(end, old.End);
            if (to <= from) continue;
            var key = new ReplicaKey(jobId, restore.SourceEpoch, source.OwnerRank, restore.Step);
            fetches.Add(local is not null && source.Endpoint == local.Endpoint
                ? Task.FromResult(Slice(local.Store, key, from, to - from))
                : FetchAsync(source.Endpoint, secret, key, from, to - from, restore, ct));
        }
        if (fetches.Count == 0)
            throw new ReplicaUnavailableException($"no copy of step {restore.Step} covers rank {rank}'s range [{range.Start}, {end}) of world size {worldSize}");
        var pieces = await Task.WhenAll(fetches).ConfigureAwait(false);
        try
        {
            return Resharding.Assemble(pieces, range.Start, range.Length, restore.Numel);
        }
        catch (ArgumentException e)
        {
            throw new ReplicaUnavailableException($"the copies of step {restore.Step} do not make rank {rank}'s shard: {e.Message}", e);
        }
    }

    private static async Task<OptimizerShard> FetchAsync(string endpoint, byte[] secret, ReplicaKey key, long start, long count, MemoryRestore restore, CancellationToken ct)
    {
        var (piece, samples) = await ReplicaClient.FetchAsync(endpoint, secret, key, start, count, ct).ConfigureAwait(false);
        if (samples != restore.SamplesConsumed)
            throw new ReplicaUnavailableException($"{endpoint}'s copy of {key} is at data cursor {samples}, the restore expects {restore.SamplesConsumed}");
        return piece;
    }

    private static OptimizerShard Slice(ReplicaStore store, ReplicaKey key, long start, long count)
    {
        if (!store.TryAcquire(key, out var copy)) throw new ReplicaUnavailableException($"this process holds no copy of {key} any more");
        try
        {
            var shard = copy.Shard;
            var offset = (int)(start - shard.Start);
            float[] Cut(float[] values) => values.AsSpan(offset, (int)count).ToArray();
            return new OptimizerShard(start, count, Cut(shard.Master), Cut(shard.ExpAvg), Cut(shard.ExpAvgSq), shard.Step);
        }
        finally
        {
            copy.Release();
        }
    }
}
