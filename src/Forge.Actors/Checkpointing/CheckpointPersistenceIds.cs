namespace Forge.Actors.Checkpointing;

/// <summary>
/// Persistence ids of a job's snapshots. Every id starts with the job id, so jobs sharing one
/// database never read or prune each other's rows. The snapshot's sequence number is the
/// checkpoint step, which lets one delete prune every older step of a chunk slot at once.
/// </summary>
public static class CheckpointPersistenceIds
{
    // The snapshot table's persistence_id column is 255 characters; leave room for the suffixes.
    public const int MaxJobIdLength = 200;

    public static string Manifest(string jobId) => $"{Prefix(jobId)}|manifest";

    public static string Chunk(string jobId, int rank, int chunkIndex) => $"{ChunkPrefix(jobId)}{rank}|chunk-{chunkIndex}";

    /// <summary>What every chunk id of the job starts with.</summary>
    public static string ChunkPrefix(string jobId) => $"{Prefix(jobId)}|rank-";

    /// <summary>The job's record (<see cref="JobRecord"/>); its sequence number is the supervisor's incarnation.</summary>
    public static string JobRecord(string jobId) => $"{Prefix(jobId)}|job";

    /// <summary>The job's event log in the journal.</summary>
    public static string Events(string jobId) => $"{Prefix(jobId)}|events";

    public static void Validate(string jobId)
    {
        if (string.IsNullOrWhiteSpace(jobId))
            throw new ArgumentException("checkpoint job id is empty", nameof(jobId));
        if (jobId.Length > MaxJobIdLength)
            throw new ArgumentException($"checkpoint job id '{jobId[..40]}...' is {jobId.Length} characters; expected at most {MaxJobIdLength}", nameof(jobId));
        // '|' separates the parts of an id; allowing it in a job id would let "a|rank-1" alias job "a".
        if (jobId.Contains('|'))
            throw new ArgumentException($"checkpoint job id '{jobId}' contains '|', which separates persistence-id parts", nameof(jobId));
    }

    private static string Prefix(string jobId)
    {
        Validate(jobId);
        return $"forge-ckpt|{jobId}";
    }
}
