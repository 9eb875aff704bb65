namespace Forge.Model.Config;

/// <summary>`[elastic]`: world size bounds and the policy when ranks are lost or join.</summary>
public sealed record ElasticConfig
{
    public int MinRanks { get; init; } = 1;
    /// <summary>0 means no upper bound.</summary>
    public int MaxRanks { get; init; }
    /// <summary>Replacement attempts before the job gives up.</summary>
    public int MaxRestarts { get; init; } = 10;
    /// <summary>Copy every rank's shard state into a buddy's memory every this many steps; 0 turns buddy replicas off.</summary>
    public int ReplicaInterval { get; init; } = 1;
    /// <summary>
    /// The most of the training time that copying shards off the device may hold steps for (a fraction; 0 = no bound):
    /// a due copy is deferred until the time since the previous round began is at least that round's capture over this.
    /// </summary>
    public double ReplicaMaxOverhead { get; init; }
}
