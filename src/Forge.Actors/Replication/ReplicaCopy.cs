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
/// The owner's arrays are borrowed from the engine's replica buffers: disposing the copy returns them.
/// </summary>
public sealed class ReplicaCopy(ReplicaKey key, OptimizerShard shard, long samplesConsumed, IDisposable? lease = null) : IDisposable
{
    private IDisposable? _lease = lease;

    public ReplicaKey Key { get; } = key;
    public OptimizerShard Shard { get; } = shard;
    /// <summary>The data cursor of the step: samples the job had consumed after it.</summary>
    public long SamplesConsumed { get; } = samplesConsumed;
    /// <summary>Host memory this copy holds: three fp32 arrays.</summary>
    public long Bytes => 3 * Shard.Length * sizeof(float);

    public void Dispose() => Interlocked.Exchange(ref _lease, null)?.Dispose();
}
