using System.Text.Json;
using System.Text.Json.Nodes;

namespace Forge.Model.Modeling.Vision.Towers;

/// <summary>
/// The vision half of a Hugging Face SigLIP or CLIP <c>config.json</c>: a vision-only model
/// (<c>siglip_vision_model</c>, <c>clip_vision_model</c>) or the <c>vision_config</c> of a full
/// image-text model (<c>siglip</c>, <c>clip</c>).
/// </summary>
public sealed record HfVisionTowerConfig
{
    public const string FileName = "config.json";

    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public required int ImageSize { get; init; }
    public required int PatchSize { get; init; }
    public int Channels { get; init; } = 3;
    public required double LayerNormEps { get; init; }
    /// <summary>gelu_pytorch_tanh (SigLIP), quick_gelu (CLIP) or gelu.</summary>
    public required string HiddenAct { get; init; }

    public int PatchesPerSide => ImageSize / PatchSize;
    public int Patches => PatchesPerSide * PatchesPerSide;

    /// <param name="family">"siglip" or "clip": the model_type prefix the file must carry.</param>
    /// <exception cref="InvalidDataException">Another model, or a missing or malformed key; names the key.</exception>
    public static HfVisionTowerConfig Read(string directory, string family)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{directory}: no {FileName} (vision_encoder.path must be a Hugging Face model directory)", path);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON: {e.Message}", e);
        }
        var type = root["model_type"]?.GetValue<string>() ?? "";
        var vision = type == family ? root["vision_config"] as JsonObject ?? new JsonObject() : root;
        if (type != family && type != $"{family}_vision_model")
            throw new InvalidDataException($"{path}: model_type = \"{type}\": expected \"{family}_vision_model\" or \"{family}\" for vision_encoder.type = \"{family}\"");
        var prefix = ReferenceEquals(vision, root) ? "" : "vision_config.";
        // transformers' defaults for keys a saved config may leave out (the base-size towers).
        var isSiglip = family == "siglip";
        var config = new HfVisionTowerConfig
        {
            HiddenSize = Int(vision, path, prefix, "hidden_size", 768),
            IntermediateSize = Int(vision, path, prefix, "intermediate_size", 3072),
            Layers = Int(vision, path, prefix, "num_hidden_layers", 12),
            Heads = Int(vision, path, prefix, "num_attention_heads", 12),
            ImageSize = Int(vision, path, prefix, "image_size", 224),
            PatchSize = Int(vision, path, prefix, "patch_size", isSiglip ? 16 : 32),
            Channels = Int(vision, path, prefix, "num_channels", 3),
            LayerNormEps = vision["layer_norm_eps"]?.GetValue<double>() ?? (isSiglip ? 1e-6 : 1e-5),
            HiddenAct = vision["hidden_act"]?.GetValue<string>() ?? (isSiglip ? "gelu_pytorch_tanh" : "quick_gelu"),
        };
        if (config.HiddenSize % config.Heads != 0)
            throw new InvalidDataException($"{path}: {prefix}num_attention_heads = {config.Heads}: expected a divisor of hidden_size ({config.HiddenSize})");
        if (config.ImageSize % config.PatchSize != 0)
            throw new InvalidDataException($"{path}: {prefix}patch_size = {config.PatchSize}: expected a divisor of image_size ({config.ImageSize})");
        if (config.Channels != 3)
            throw new InvalidDataException($"{path}: {prefix}num_channels = {config.Channels}: expected 3 (RGB images)");
        TowerMlp.Activation(config.HiddenAct, path);
        return config;
    }

    private static int Int(JsonObject o, string path, string prefix, string key, int fallback)
    {
        var node = o[key];
        if (node is null) return fallback;
        if (node is JsonValue v && v.TryGetValue<int>(out var value) && value > 0) return value;
        throw new InvalidDataException($"{path}: {prefix}{key} = {node.ToJsonString()}: expected a positive integer");
    }
}
