using Forge.Model.Optim;

namespace Forge.Actors.Checkpointing;

/// <summary>
/// What a resume got: the committed checkpoint it used, the requested ranges loaded from it (in
/// the order asked), and every newer checkpoint it had to pass over, with the reason.
/// </summary>
public sealed record RestoredCheckpoint(
    CheckpointManifest Manifest,
    IReadOnlyList<OptimizerShard> Shards,
    IReadOnlyList<SkippedCheckpoint> Skipped);
