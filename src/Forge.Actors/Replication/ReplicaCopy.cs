using Forge.Model.Optim;

namespace Forge.Actors.Replication;

/// <summary>Names one copy: the shard of rank `OwnerRank` in world `WorldEpoch` of job `JobId`, as it stood after `Step` steps.</summary>
public readonly record struct ReplicaKey(string JobId, long WorldEpoch, int OwnerRank, long Step)
{
    public override string ToString() => $"job '{JobId}' world {WorldEpoch} rank {OwnerRank} step {Step}";
}

/// <summary>
/// One complete copy of a shard's state in host memory: fp32 master, both moments and the optimizer's
/// step count (in <see cref="Shard"/>), and the data cursor of that step. A copy is only ever made whole:
/// the owner's is a finished capture, a buddy's is committed after its length and checksum were verified.
/// Its arrays are borrowed (the owner's from the engine's replica buffers, a buddy's from its store's spare
/// arrays) and handed back through <c>lease</c> once nobody uses them: the store holds one reference, and every
/// reader of the arrays (a fetch being served, a local restore) holds another (<see cref="ReplicaStore.TryAcquire"/>),
/// so a copy evicted mid-read is not overwritten under its reader.
/// </summary>
public sealed class ReplicaCopy(ReplicaKey key, OptimizerShard shard, long samplesConsumed, IDisposable? lease = null) : IDisposable
{
    private IDisposable? _lease = lease;
    private int _references = 1;

    public ReplicaKey Key { get; } = key;
    public OptimizerShard Shard { get; } = shard;
    /// <summary>The data cursor of the step: samples the job had consumed after it.</summary>
    public long SamplesConsumed { get; } = samplesConsumed;
    /// <summary>Host memory this copy holds: three fp32 arrays.</summary>
    public long Bytes => 3 * Shard.Length * sizeof(float);

    /// <summary>Takes a reader's reference; false once the copy was freed.</summary>
    internal bool TryAcquire()
    {
        for (var seen = Volatile.Read(ref _references); seen > 0; seen = Volatile.Read(ref _references))
            if (Interlocked.CompareExchange(ref _references, seen + 1, seen) == seen) return true;
        return false;
    }

    /// <summary>Drops a reference (a reader's, or the store's through <see cref="Dispose"/>); the last one hands the arrays back.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0) Interlocked.Exchange(ref _lease, null)?.Dispose();
    }

    /// <summary>The store's reference: the copy is dropped from the store.</summary>
    public void Dispose() => Release();
}
