namespace Forge.Actors.Security;

/// <summary>A cluster node cannot start with its [security] settings: the message names the key, the file and what was expected.</summary>
public sealed class ClusterTrustException(string message, Exception? inner = null) : Exception(message, inner);
