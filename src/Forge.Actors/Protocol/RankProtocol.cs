using Forge.Actors.Checkpointing;

namespace Forge.Actors.Protocol;

// What a rank actor receives from the job supervisor. Every message that belongs to one formed
// world carries its WorldEpoch, so late messages from an aborted world are recognised and ignored.
// No message carries tensor bytes: shards go from the rank to the checkpoint store directly.

/// <summary>
/// The supervisor accepted the registration; the sender is the supervisor to watch. `ReplicaSecret` is what every
/// connection to a buddy replica channel of this supervisor's job must prove (made fresh by each supervisor, and
/// sent only over remoting, TLS between machines); the rank hands it to its process's replica channel. Null when
/// the job keeps no replicas.
/// </summary>
public sealed record RankRegistered(string JobId, byte[]? ReplicaSecret = null) : IForgeMessage;

/// <summary>
/// The supervisor's answer to a registration it could accept: before the rank gets work it must show
/// that it writes and reads the job's store, by reading <paramref name="Token"/> back from the job
/// record in its own store (<see cref="JobRecord"/>). <paramref name="StoreLocation"/> names the job's
/// store, for the refusal message.
/// </summary>
public sealed record ProveStore(string JobId, string Token, string StoreLocation) : IForgeMessage;

/// <summary>Sent to the future rank 0 of a world: create the collective group id (NCCL unique id or rendezvous address).</summary>
public sealed record CreateGroup(long WorldEpoch) : IForgeMessage;

/// <summary>
/// Join world `Assignment` and build the engine; restore the shard resharded from `FromMemory` (buddy replicas)
/// when given, else from the checkpoint `RestoreFrom` when given.
/// </summary>
public sealed record JoinWorld(RankAssignment Assignment, CheckpointManifest? RestoreFrom, MemoryRestore? FromMemory = null) : IForgeMessage;

/// <summary>Run optimizer step `Step` (0-based) in world `WorldEpoch`.</summary>
public sealed record RunStep(long WorldEpoch, long Step) : IForgeMessage;

/// <summary>Persist the shard as it stands after `Step` completed steps.</summary>
public sealed record SaveShard(long WorldEpoch, long Step) : IForgeMessage;

/// <summary>Abandon the running step: abort the collective group so no rank blocks on a dead peer; reply when the torch thread is free.</summary>
public sealed record AbortStep(long WorldEpoch, string Reason) : IForgeMessage;

/// <summary>
/// The job is over for this rank: release the engine and stop. <paramref name="MayRejoin"/> is true when the
/// supervisor dropped the rank (a failed step, silence, a failed join) while the job goes on: the node's
/// rank host (Ranks.RankHost) then starts a fresh rank in its place, which registers again.
/// <paramref name="Refused"/> is true when the rank was never admitted (its config or machine does not fit the job).
/// </summary>
public sealed record LeaveJob(string Reason, bool MayRejoin = false, bool Refused = false) : IForgeMessage;

/// <summary>
/// Local only: a rank tells its process's step relay (Ranks.RankHost) that it is rank `Rank` of world `WorldEpoch`,
/// before it tells the supervisor, so the relay knows the member before any step of that world reaches it.
/// </summary>
public sealed record RelayMember(long WorldEpoch, int Rank);

/// <summary>Local only: a rank tells its rank host (Ranks.RankHost) why it is about to stop.</summary>
public sealed record RankLeaving(LeaveJob Leave);

/// <summary>
/// A rank's place in one formed world. The epoch increases with every (re-)formation; the group id
/// is opaque bytes from <see cref="Forge.Model.Distributed.ICollectiveBackend.CreateGroupId"/>.
/// <paramref name="GlobalBatchSize"/> is the job's samples per optimizer step, fixed by the supervisor when
/// the job first formed (train.global_batch_size, or batch_size × that world's size when it is 0), so every
/// process samples the same batches whatever its own rank count.
/// </summary>
public sealed record RankAssignment(string JobId, long WorldEpoch, int Rank, int WorldSize, byte[] GroupId, int GlobalBatchSize);
