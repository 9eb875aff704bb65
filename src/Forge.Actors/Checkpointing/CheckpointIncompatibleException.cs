namespace Forge.Actors.Checkpointing;

/// <summary>A committed checkpoint was made for a different model than the one resuming from it.</summary>
public sealed class CheckpointIncompatibleException(string message) : InvalidOperationException(message);
