using System.Text.Json;

namespace Forge.Actors.Checkpointing;

/// <summary>The manifest's stored form: UTF-8 JSON (small, and readable with any SQL client).</summary>
public static class CheckpointManifestJson
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = false };

    public static byte[] Serialize(CheckpointManifest manifest) => JsonSerializer.SerializeToUtf8Bytes(manifest, Options);

    public static CheckpointManifest Deserialize(byte[] json, string jobId, long step)
    {
        try
        {
            return JsonSerializer.Deserialize<CheckpointManifest>(json, Options)
                   ?? throw new JsonException("the manifest is JSON null");
        }
        catch (JsonException e)
        {
            throw new CheckpointCorruptException(jobId, step, null, null, $"manifest JSON does not parse: {e.Message}", e);
        }
    }
}
