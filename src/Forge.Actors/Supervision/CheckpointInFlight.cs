using System.Diagnostics;
using Forge.Actors.Checkpointing;
using Forge.Actors.Protocol;

namespace Forge.Actors.Supervision;

/// <summary>
/// A checkpoint between "save your shards" and the manifest commit. It commits only once every
/// rank of the world that was asked has delivered a receipt for exactly this step.
/// </summary>
internal sealed class CheckpointInFlight(long worldEpoch, long step, int worldSize, bool final)
{
    private readonly ShardReceipt?[] _receipts = new ShardReceipt?[worldSize];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _arrived;

    public long WorldEpoch { get; } = worldEpoch;
    public long Step { get; } = step;
    /// <summary>The job ends once this checkpoint committed (max steps reached, or a stop request).</summary>
    public bool Final { get; } = final;
    /// <summary>The longest time a rank's step path stalled copying its shard off the device.</summary>
    public double StallSeconds { get; private set; }
    public bool AllShardsSaved => _arrived == _receipts.Length;
    public double ElapsedSeconds => _clock.Elapsed.TotalSeconds;

    public bool Accept(ShardSaved saved)
    {
        var rank = saved.Receipt.Rank;
        if (saved.WorldEpoch != WorldEpoch || saved.Step != Step || rank < 0 || rank >= _receipts.Length || _receipts[rank] is not null)
            return false;
        _receipts[rank] = saved.Receipt;
        _arrived++;
        StallSeconds = Math.Max(StallSeconds, saved.SnapshotSeconds);
        return true;
    }

    public IReadOnlyList<ShardReceipt> Receipts =>
        AllShardsSaved ? _receipts.Select(r => r!).ToArray() : throw new InvalidOperationException($"checkpoint {Step} still misses shards");
}
