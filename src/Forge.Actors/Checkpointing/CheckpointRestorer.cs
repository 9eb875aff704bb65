using Forge.Model.Optim;
using Forge.Model.Training;

namespace Forge.Actors.Checkpointing;

/// <summary>
/// The resume path: loads the newest committed checkpoint of a job whose chunks all verify, for
/// the ranges the new world needs. A corrupt checkpoint is reported and passed over for the
/// previous committed one; a model-config mismatch stops the resume, since every older checkpoint
/// of the job would share it.
/// </summary>
public sealed class CheckpointRestorer(ICheckpointStore store, TextWriter? log = null)
{
    /// <returns>The restored state, or null when the job has no committed checkpoint.</returns>
    /// <exception cref="CheckpointIncompatibleException">The checkpoint was saved for another model config or layout.</exception>
    /// <exception cref="CheckpointCorruptException">Every committed checkpoint is corrupt (the newest one's error, with the others skipped listed).</exception>
    public async Task<RestoredCheckpoint?> RestoreAsync(
        string jobId,
        string expectedConfigHash,
        IReadOnlyList<FlatRange> ranges,
        FlatLayoutInfo? expectedLayout = null,
        CancellationToken ct = default)
    {
        var (committed, unreadable) = await store.ListWithUnreadableAsync(jobId, ct);
        var skipped = new List<SkippedCheckpoint>();
        CheckpointCorruptException? newestFailure = null;
        for (var i = committed.Count - 1; i >= 0; i--)
        {
            var manifest = committed[i];
            // A damaged manifest newer than this checkpoint is passed over like a damaged chunk.
            foreach (var damaged in unreadable.Where(u => u.Step > manifest.Step && skipped.All(s => s.Step != u.Step)).OrderByDescending(u => u.Step))
            {
                skipped.Add(damaged);
                newestFailure ??= new CheckpointCorruptException(jobId, damaged.Step, null, null, damaged.Reason);
                log?.WriteLine($"checkpoint: {damaged.Reason}; falling back to step {manifest.Step}");
            }
            CheckpointCompatibility.Verify(manifest, expectedConfigHash, expectedLayout);
            try
            {
                var shards = new List<OptimizerShard>(ranges.Count);
                foreach (var range in ranges)
                    shards.Add(await store.LoadRangeAsync(manifest, range.Start, range.Length, ct));
                if (skipped.Count > 0)
                    log?.WriteLine($"checkpoint: resuming job '{jobId}' from step {manifest.Step}, the newest checkpoint that verifies (skipped steps {string.Join(", ", skipped.Select(s => s.Step))})");
                return new RestoredCheckpoint(manifest, shards, skipped);
            }
            catch (CheckpointCorruptException e)
            {
                newestFailure ??= e;
                skipped.Add(new SkippedCheckpoint(manifest.Step, e.Message));
                var previous = i > 0 ? $"falling back to step {committed[i - 1].Step}" : "no older committed checkpoint is left";
                log?.WriteLine($"checkpoint: {e.Message}; {previous}");
            }
        }
        foreach (var damaged in unreadable.Where(u => skipped.All(s => s.Step != u.Step)).OrderByDescending(u => u.Step))
        {
            skipped.Add(damaged);
            newestFailure ??= new CheckpointCorruptException(jobId, damaged.Step, null, null, damaged.Reason);
        }
        if (newestFailure is not null)
            throw new CheckpointCorruptException(jobId, newestFailure.Step, newestFailure.Rank, newestFailure.ChunkIndex,
                $"every committed checkpoint of the job is corrupt (steps {string.Join(", ", skipped.Select(s => s.Step))}); newest failure: {newestFailure.Message}", newestFailure);
        return null;
    }
}
