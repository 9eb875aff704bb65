namespace Forge.Actors.Replication;

/// <summary>A copy could not be sent or fetched: its holder is gone, does not hold it, or sent damaged bytes.</summary>
public sealed class ReplicaUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
