using System.Collections.Frozen;
using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Forge.Actors.Protocol;

namespace Forge.Actors.Cluster;

/// <summary>
/// Serialises every <see cref="IForgeMessage"/> as System.Text.Json with the type's short name as
/// manifest. Chosen over Akka's reflection-based default because the wire format is then explicit
/// (no assembly-qualified type names, no polymorphic type handling), messages are plain records
/// that System.Text.Json reads through their constructors, and the messages are small metadata.
/// </summary>
public sealed class ForgeMessageSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    // Akka reserves identifiers below 100 for itself.
    public override int Identifier => 4_117;

    private static readonly FrozenDictionary<string, Type> Types = typeof(IForgeMessage).Assembly.GetTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IForgeMessage).IsAssignableFrom(t))
        .ToFrozenDictionary(t => t.Name);

    // Per system: an actor reference is written as its full path with uid and read back through this system's provider.
    private readonly JsonSerializerOptions _json = new(JsonSerializerDefaults.General) { Converters = { new ActorRefConverter(system) } };

    public override string Manifest(object o) => o.GetType().Name;

    public override byte[] ToBinary(object obj)
    {
        if (obj is not IForgeMessage)
            throw new ArgumentException($"{obj.GetType()} is not a Forge protocol message (IForgeMessage)", nameof(obj));
        return JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), _json);
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!Types.TryGetValue(manifest, out var type))
            throw new SerializationException($"unknown Forge message manifest '{manifest}': the nodes run different Forge versions");
        return JsonSerializer.Deserialize(bytes, type, _json)
               ?? throw new SerializationException($"empty payload for Forge message '{manifest}'");
    }

    /// <summary>
    /// An <see cref="IActorRef"/> in a message (a step relay): Akka's serialized path names the actor with the sending
    /// system's address, so the receiving system resolves it to a remote reference that reaches that one actor.
    /// </summary>
    private sealed class ActorRefConverter(ExtendedActorSystem system) : JsonConverter<IActorRef>
    {
        public override IActorRef Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            system.Provider.ResolveActorRef(reader.GetString() ?? throw new JsonException("an actor reference must be a path string"));

        public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Akka.Serialization.Serialization.SerializedActorPath(value));
    }
}
