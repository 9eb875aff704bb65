using Forge.Model.Optim;
using Forge.Model.Training;

namespace Forge.Actors.Checkpointing;

/// <summary>
/// Durable sharded checkpoints. A checkpoint counts only once <see cref="CommitAsync"/> stored its
/// manifest after every shard was saved. Implemented on Akka.Persistence.Sql snapshots (SQLite by
/// default, PostgreSQL for clusters), chunked and checksummed.
/// </summary>
public interface ICheckpointStore
{
    /// <summary>Persists one rank's shard for (job, step); returns the chunk checksums written.</summary>
    Task<ShardReceipt> SaveShardAsync(string jobId, long step, int rank, OptimizerShard shard, CancellationToken ct = default);

    /// <summary>Makes the checkpoint count; prunes older ones beyond keep_last_n afterwards.</summary>
    Task CommitAsync(CheckpointManifest manifest, CancellationToken ct = default);

    /// <summary>The newest committed manifest of the job that can be read, or null when none.</summary>
    Task<CheckpointManifest?> LatestAsync(string jobId, CancellationToken ct = default);

    /// <summary>All committed manifests of the job that can be read, oldest first.</summary>
    Task<IReadOnlyList<CheckpointManifest>> ListAsync(string jobId, CancellationToken ct = default);

    /// <summary>
    /// The readable manifests, oldest first, and the committed ones whose manifest itself is damaged
    /// (it does not parse, or names another job or step). A damaged manifest never hides the older
    /// checkpoints: each is stored on its own. Stores that keep manifests as objects have none unreadable.
    /// </summary>
    async Task<CheckpointListing> ListWithUnreadableAsync(string jobId, CancellationToken ct = default) =>
        new(await ListAsync(jobId, ct), []);

    /// <summary>Reads [start, start+length) of the flat layout from a committed checkpoint, whatever world saved it (resharding).</summary>
    Task<OptimizerShard> LoadRangeAsync(CheckpointManifest manifest, long start, long length, CancellationToken ct = default);

    /// <summary>
    /// Where this store keeps its data, in words that tell two stores apart and hold no password:
    /// "SQLite file /abs/path/checkpoints.db" or "PostgreSQL host:port/database".
    /// </summary>
    string Location { get; }

    /// <summary>
    /// Which chunks the manifest names are absent from the store, or of another size than recorded,
    /// one line each; empty when every chunk is there. Checks presence and size only (the data is
    /// not read): cheap enough to run before every commit.
    /// </summary>
    Task<IReadOnlyList<string>> MissingChunksAsync(CheckpointManifest manifest, CancellationToken ct = default);

    /// <summary>Replaces the job's record (<see cref="JobRecord"/>): written by each supervisor as it starts.</summary>
    Task WriteJobRecordAsync(JobRecord record, CancellationToken ct = default);

    /// <summary>The job's newest record, or null when no supervisor ever ran the job against this store.</summary>
    Task<JobRecord?> ReadJobRecordAsync(string jobId, CancellationToken ct = default);

    /// <summary>Appends one journal event (a JSON object) to the job's event log, an Akka.Persistence journal in the store.</summary>
    Task AppendEventAsync(string jobId, string json, CancellationToken ct = default);

    /// <summary>The job's journal events, oldest first, whichever process wrote them.</summary>
    Task<IReadOnlyList<string>> ReadEventsAsync(string jobId, CancellationToken ct = default);
}

/// <summary>A job's committed checkpoints: those that can be read, and, oldest first, why each of the others cannot.</summary>
public sealed record CheckpointListing(IReadOnlyList<CheckpointManifest> Committed, IReadOnlyList<CheckpointCorruptException> Unreadable);

/// <summary>Which chunks a shard save wrote, with their checksums.</summary>
public sealed record ShardReceipt(int Rank, long Start, long Length, IReadOnlyList<ChunkInfo> Chunks);

/// <param name="Part">Which of the store's databases holds the chunk (<see cref="CheckpointStoreSettings.Parts"/>); 0, the main one, in checkpoints written before stores had parts.</param>
public sealed record ChunkInfo(int Index, long Bytes, string Checksum, int Part = 0);

/// <summary>
/// The commit record of a checkpoint: everything needed to resume on any world size.
/// </summary>
public sealed record CheckpointManifest
{
    public required string JobId { get; init; }
    public required long Step { get; init; }
    public required int WorldSize { get; init; }
    public required FlatLayoutInfo Layout { get; init; }
    public required IReadOnlyList<ShardReceipt> Shards { get; init; }
    public required long DataEpoch { get; init; }
    public required long DataPosition { get; init; }
    public required long SamplesConsumed { get; init; }
    public required long RngSeed { get; init; }
    public required long SchedulerStep { get; init; }
    public required IReadOnlyList<string> FrozenParameters { get; init; }
    public required string ModelConfigHash { get; init; }
    /// <summary>Samples per optimizer step of the job; a resume keeps it (0 in manifests written before it was recorded).</summary>
    public int GlobalBatchSize { get; init; }
    public DateTimeOffset CommittedAt { get; init; }
}
