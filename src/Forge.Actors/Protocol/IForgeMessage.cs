namespace Forge.Actors.Protocol;

/// <summary>
/// Marks the messages that may cross node boundaries. config/akka.conf binds this interface to
/// <see cref="ForgeMessageSerializer"/>, so every remote protocol message is serialised the same
/// explicit way and a forgotten binding cannot silently fall back to reflection-based JSON.
/// </summary>
public interface IForgeMessage;
