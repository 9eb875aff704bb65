namespace Forge.Actors.Checkpointing;

/// <summary>
/// Where `forge resume` starts: the job's newest committed checkpoint whose manifest reads, checked
/// against the model about to resume. A newer checkpoint whose manifest is damaged is passed over and
/// said so; a chunk that fails its checksum is found when the ranks restore, and the supervisor then
/// falls back to the previous checkpoint in the job itself. This and the ranks' restore
/// (Ranks.ShardRestore) are the one resume path; the product and the tests both use it.
/// </summary>
public static class ResumePoint
{
    /// <exception cref="InvalidOperationException">The job has no committed checkpoint that reads (the message names each damaged one).</exception>
    /// <exception cref="CheckpointIncompatibleException">The checkpoint was written for another model config: an older one would be too.</exception>
    public static async Task<CheckpointManifest> FindAsync(ICheckpointStore store, string jobId, string modelConfigHash, Action<string> report, CancellationToken ct = default)
    {
        var (committed, unreadable) = await store.ListWithUnreadableAsync(jobId, ct).ConfigureAwait(false);
        var latest = committed.LastOrDefault();
        // Nothing is skipped silently.
        foreach (var damaged in unreadable.Where(u => latest is null || u.Step > latest.Step))
            report($"{damaged.Message}; " + (latest is null ? "no readable checkpoint is left" : $"resuming from step {latest.Step}"));
        if (latest is null)
            throw new InvalidOperationException(unreadable.Count == 0
                ? $"job '{jobId}' has no committed checkpoint to resume from"
                : $"job '{jobId}' has no readable committed checkpoint (damaged: {string.Join("; ", unreadable.Select(u => $"step {u.Step}: {u.Message}"))})");
        // Manifests written before model hashes were recorded carry none: nothing to compare.
        if (latest.ModelConfigHash.Length > 0) CheckpointCompatibility.Verify(latest, modelConfigHash);
        return latest;
    }
}
