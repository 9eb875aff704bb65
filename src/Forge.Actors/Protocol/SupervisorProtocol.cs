using Akka.Actor;
using Forge.Model.Optim;
using Forge.Actors.Checkpointing;
using Forge.Model.Training;

namespace Forge.Actors.Protocol;

// What the job supervisor receives. Rank-originated messages carry the world epoch they belong
// to; the supervisor drops any whose epoch is not the current world's.

/// <summary>
/// A rank actor offers itself to the job. `Device` is its GPU index on `Node`, or -1 for a CPU rank.
/// <paramref name="JobId"/> and <paramref name="ModelConfigHash"/> are what the rank's own
/// config says (empty when unknown); the supervisor turns away a rank configured for another job or model.
/// <paramref name="Held"/> lists the job's buddy replicas in the rank's process: a supervisor that took the job
/// over learns from it which steps the survivors still hold in memory.
/// </summary>
public sealed record RegisterRank(string Node, int Device, string JobId = "", string ModelConfigHash = "", ReplicaInventory? Held = null) : IForgeMessage;

/// <summary>
/// A rank's answer to <see cref="ProveStore"/>: the token it read from its own store
/// (<paramref name="StoreLocation"/>), null with <paramref name="Error"/> when the read failed or found no record.
/// </summary>
public sealed record StoreProof(RegisterRank Registration, string? Token, string StoreLocation, string? Error = null) : IForgeMessage;

/// <summary>Rank 0 created the world's collective group id.</summary>
public sealed record GroupCreated(long WorldEpoch, byte[] GroupId) : IForgeMessage;

/// <summary>
/// A rank joined the collective group and built its engine (restored when asked). `ReplicaEndpoint` is its
/// process's replica channel (host:port), empty when that process keeps no buddy replicas. <paramref name="Relay"/>
/// is its process's step relay (the <c>RankHost</c>, see <see cref="StepsDone"/>), which takes the world's
/// <see cref="RunStep"/>, <see cref="SaveShard"/> and <see cref="ReplicateShard"/> for every rank of the process;
/// null for a rank that takes them itself.
/// </summary>
public sealed record WorldJoined(long WorldEpoch, int Rank, FlatLayoutInfo Layout, string ReplicaEndpoint = "", IActorRef? Relay = null) : IForgeMessage;

/// <summary>
/// A rank could not create or join the group, or could not build or restore its engine.
/// <paramref name="CorruptCheckpointStep"/> is set when the restore found the checkpoint of that step damaged
/// (a chunk missing or failing its checksum): the checkpoint is to blame, not the rank.
/// <paramref name="MemoryCopyLost"/> is set when a copy the rank had to fetch from memory was gone or damaged:
/// the copies are to blame, and the world re-forms from the durable checkpoint.
/// </summary>
public sealed record JoinFailed(long WorldEpoch, int Rank, string Error, long? CorruptCheckpointStep = null, bool MemoryCopyLost = false) : IForgeMessage;

/// <summary>A rank finished step `Result.Step`: one arrival at the step barrier.</summary>
public sealed record StepDone(long WorldEpoch, int Rank, StepResult Result) : IForgeMessage;

/// <summary>
/// Every rank of one process finished step <paramref name="Step"/>: their <see cref="StepDone"/>s, gathered by the
/// process's step relay. The supervisor then sends and receives one message per process and step, not one per rank:
/// at thousands of ranks, W remote sends each way were most of the barrier.
/// </summary>
public sealed record StepsDone(long WorldEpoch, long Step, IReadOnlyList<StepDone> Done) : IForgeMessage;

/// <summary>
/// A rank's step threw. `PeerFailure` is true for a collective failure, which usually means a
/// PEER died, so the supervisor must not blame the reporter and probes every rank instead.
/// </summary>
public sealed record StepFailed(long WorldEpoch, int Rank, long Step, string Error, bool PeerFailure) : IForgeMessage;

/// <summary>The rank's torch thread is free after an <see cref="AbortStep"/>: the rank is alive.</summary>
public sealed record StepAborted(long WorldEpoch, int Rank) : IForgeMessage;

/// <summary>A shard is durable. `SnapshotSeconds` is the time the step path stalled to copy it off the device.</summary>
public sealed record ShardSaved(long WorldEpoch, long Step, ShardReceipt Receipt, double SnapshotSeconds) : IForgeMessage;

public sealed record ShardSaveFailed(long WorldEpoch, long Step, int Rank, string Error) : IForgeMessage;

/// <summary>Finish the current step, checkpoint and stop (a signal, or the host's cancellation).</summary>
public sealed record StopJob(string Reason) : IForgeMessage;

/// <summary>Ask for the job's end: the reply is <see cref="JobFinished"/> once every rank has stopped.</summary>
public sealed record AwaitJobFinished
{
    public static AwaitJobFinished Instance { get; } = new();
}
