namespace Forge.Actors.Checkpointing;

/// <summary>
/// A stored checkpoint cannot be trusted: a chunk's checksum or header does not match its manifest,
/// a chunk is missing, or the manifest itself is unreadable. Names the exact piece.
/// </summary>
public sealed class CheckpointCorruptException : IOException
{
    public string JobId { get; }
    public long Step { get; }
    /// <summary>The rank whose shard holds the bad chunk; null when the manifest itself is bad.</summary>
    public int? Rank { get; }
    public int? ChunkIndex { get; }

    public CheckpointCorruptException(string jobId, long step, int? rank, int? chunkIndex, string detail, Exception? inner = null)
        : base(Describe(jobId, step, rank, chunkIndex, detail), inner)
    {
        JobId = jobId;
        Step = step;
        Rank = rank;
        ChunkIndex = chunkIndex;
    }

    private static string Describe(string jobId, long step, int? rank, int? chunkIndex, string detail)
    {
        var piece = rank is { } r ? $"rank {r} chunk {chunkIndex}" : "manifest";
        return $"checkpoint of job '{jobId}' at step {step} is corrupt: {piece}: {detail}";
    }
}
