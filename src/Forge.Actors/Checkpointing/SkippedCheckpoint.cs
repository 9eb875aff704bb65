namespace Forge.Actors.Checkpointing;

/// <summary>A committed checkpoint the resume could not use.</summary>
public sealed record SkippedCheckpoint(long Step, string Reason);
