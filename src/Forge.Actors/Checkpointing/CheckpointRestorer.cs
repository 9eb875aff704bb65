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
        // Every committed checkpoint, newest first. One whose manifest is damaged has failed already,
        // and is passed over exactly like one whose chunk fails its checksum below.
        var candidates = committed.Select(m => (m.Step, Manifest: (CheckpointManifest?)m, Damage: (CheckpointCorruptException?)null))
            .Concat(unreadable.Select(e => (e.Step, Manifest: (CheckpointManifest?)null, Damage: (CheckpointCorruptException?)e)))
            .OrderByDescending(c => c.Step)
            .ToList();
        var skipped = new List<SkippedCheckpoint>();
        CheckpointCorruptException? newestFailure = null;
        for (var i = 0; i < candidates.Count; i++)
        {
            var (step, manifest, damage) = candidates[i];
            if (manifest is not null)
            {
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
                    damage = e;
                }
            }
            newestFailure ??= damage!;
            skipped.Add(new SkippedCheckpoint(step, damage!.Message));
            var previous = i + 1 < candidates.Count ? $"falling back to step {candidates[i + 1].Step}" : "no older committed checkpoint is left";
            log?.WriteLine($"checkpoint: {damage.Message}; {previous}");
        }
        if (newestFailure is not null)
            throw new CheckpointCorruptException(jobId, newestFailure.Step, newestFailure.Rank, newestFailure.ChunkIndex,
                $"every committed checkpoint of the job is corrupt (steps {string.Join(", ", skipped.Select(s => s.Step))}); newest failure: {newestFailure.Message}", newestFailure);
        return null;
    }
}
