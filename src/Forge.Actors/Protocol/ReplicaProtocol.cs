namespace Forge.Actors.Protocol;

// Buddy replicas (elastic.replica_interval): after a step, every rank copies its shard state into
// its own process's memory and into a buddy's, in another process. These messages only say which
// copies to make, keep and restore; the bytes travel on the replica channel (Forge.Actors.Replication),
// never on Akka remoting.

/// <summary>One replicated step of one world: the key of every shard's copies of that step.</summary>
public sealed record ReplicaStep(long WorldEpoch, long Step);

/// <summary>
/// Copy the shard as it stands after `Step` completed steps into this process's memory and to the
/// buddy's replica endpoint (host:port; null when the rank has none). `SamplesConsumed` is the data
/// cursor of that step, recorded with the copy. Every copy in this process that is neither of this
/// step nor in `Retain` may be dropped: the supervisor needs no other. `Rank` is the world rank it is for: the
/// process's step relay hands it to that rank alone.
/// </summary>
public sealed record ReplicateShard(long WorldEpoch, long Step, long SamplesConsumed, string? BuddyEndpoint, IReadOnlyList<ReplicaStep> Retain, int Rank) : IForgeMessage;

/// <summary>
/// Rank `Rank`'s copy of step `Step` is complete in its own process's memory and, when it has a buddy,
/// verified (length and checksum) and committed in the buddy's. `StallSeconds` is the time the step
/// path spent copying the shard off the device (the copy itself, not a first capture's one-time buffer setup),
/// which spaces the rounds under elastic.replica_max_overhead.
/// </summary>
public sealed record ShardReplicated(long WorldEpoch, long Step, int Rank, double StallSeconds) : IForgeMessage;

/// <summary>A rank could not make or send its copy of step `Step`; earlier copies stay as they were.</summary>
public sealed record ShardReplicationFailed(long WorldEpoch, long Step, int Rank, string Error) : IForgeMessage;

/// <summary>Where one old shard's copy of the restored step lives: its old rank and a replica endpoint that holds it.</summary>
public sealed record ReplicaSource(int OwnerRank, string Endpoint);

/// <summary>
/// A world restores step `Step` of world `SourceEpoch` (of `SourceWorldSize` ranks over a flat layout of
/// `Numel` elements) from memory: every old shard has one live copy, at `Sources`. Each new rank fetches
/// the pieces of its own range from them (resharding to the new world size) and rewinds its data to
/// `SamplesConsumed`.
/// </summary>
public sealed record MemoryRestore(long SourceEpoch, long Step, long SamplesConsumed, int SourceWorldSize, long Numel, IReadOnlyList<ReplicaSource> Sources);

/// <summary>
/// One complete copy a process's replica store holds: the shard of `OwnerRank` in world `WorldEpoch` as it
/// stood after `Step` steps, covering elements [`Start`, `Start`+`Length`) of the flat layout, at data cursor
/// `SamplesConsumed`. The range is what lets a supervisor that never saw that world tell whether the copies it
/// hears of cover every shard.
/// </summary>
public sealed record HeldCopy(long WorldEpoch, long Step, int OwnerRank, long Start, long Length, long SamplesConsumed);

/// <summary>The copies of one job held by the replica store at `Endpoint` (a registering rank's process).</summary>
public sealed record ReplicaInventory(string Endpoint, IReadOnlyList<HeldCopy> Copies);

/// <summary>
/// A process that lends host memory only (`forge node --memory-only`) offers its replica channel at `Endpoint`
/// to job `JobId`: it keeps buddies' copies there and trains nothing. It repeats this until the supervisor
/// answers, and again whenever the supervisor changes. `Held` lists the copies it still holds from a previous
/// supervisor, as a registering rank's does: a supervisor that took the job over may restore from them.
/// </summary>
public sealed record RegisterReplicaHolder(string JobId, string Node, string Endpoint, ReplicaInventory? Held = null) : IForgeMessage;

/// <summary>
/// The supervisor took the holder on (the sender is the supervisor to watch). `ReplicaSecret` is the secret
/// every connection to a replica channel of this supervisor's job proves (see <see cref="RankRegistered"/>).
/// `KeepHeld`: the supervisor adopted the copies the registration listed; otherwise the holder frees them.
/// </summary>
public sealed record ReplicaHolderRegistered(string JobId, byte[] ReplicaSecret, bool KeepHeld = false) : IForgeMessage;

/// <summary>
/// To a memory-only holder, with every replica round: the copies it may keep, the round's own step among them;
/// it drops every other. A rank's process learns the same from <see cref="ReplicateShard"/>; a holder gets no
/// such message, and without this the copies of worlds that re-formed away would stay in its memory.
/// </summary>
public sealed record RetainReplicas(string JobId, IReadOnlyList<ReplicaStep> Keep) : IForgeMessage;
