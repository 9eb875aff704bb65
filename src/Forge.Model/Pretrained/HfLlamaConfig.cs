using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Forge.Model.Config;

namespace Forge.Model.Pretrained;

/// <summary>
/// A Hugging Face Llama <c>config.json</c> as this project's <c>[model]</c>: hidden_size -> dim,
/// num_hidden_layers -> n_layers, num_attention_heads -> n_heads, num_key_value_heads -> n_kv_heads,
/// intermediate_size -> ffn_hidden_dim, rms_norm_eps -> norm_eps, max_position_embeddings ->
/// max_seq_len, rope_theta (or rope_parameters.rope_theta, transformers 5) -> rope_theta. What the
/// decoder cannot compute (biases, another activation, RoPE scaling, a head width other than
/// hidden_size / heads) is refused by key, not approximated.
/// </summary>
public sealed record HfLlamaConfig
{
    public const string FileName = "config.json";

    public required ModelConfig Model { get; init; }
    public bool TieWordEmbeddings { get; init; }
    public int? BosTokenId { get; init; }
    public int? EosTokenId { get; init; }
    public int? PadTokenId { get; init; }

    /// <summary>Whether <paramref name="directory"/> holds a config.json of a Llama-architecture model.</summary>
    public static bool IsLlamaDirectory(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) return false;
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(path));
            return root?["model_type"]?.GetValue<string>() == "llama";
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Reads <paramref name="directory"/>/config.json.</summary>
    /// <exception cref="InvalidDataException">Not a Llama config, or a setting the decoder cannot reproduce; names the key.</exception>
    public static HfLlamaConfig Read(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{directory}: no {FileName} (a Hugging Face model directory has one)", path);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON: {e.Message}", e);
        }

        var type = Text(root, path, "model_type", "");
        if (type != "llama")
            throw new InvalidDataException($"{path}: model_type = \"{type}\": expected \"llama\" (LlamaForCausalLM names and layout)");
        var dim = Int(root, path, "hidden_size");
        var heads = Int(root, path, "num_attention_heads");
        var kvHeads = Int(root, path, "num_key_value_heads", heads);
        if (heads <= 0 || dim % heads != 0)
            throw new InvalidDataException($"{path}: num_attention_heads = {heads}: expected a divisor of hidden_size ({dim})");
        var headDim = Int(root, path, "head_dim", dim / heads);
        if (headDim != dim / heads)
            throw new InvalidDataException($"{path}: head_dim = {headDim}: expected hidden_size / num_attention_heads = {dim / heads} (the decoder derives its head width)");
        var act = Text(root, path, "hidden_act", "silu");
        if (act != "silu") throw new InvalidDataException($"{path}: hidden_act = \"{act}\": expected \"silu\" (the decoder's MLP is SwiGLU)");
        foreach (var bias in new[] { "attention_bias", "mlp_bias" })
            if (Bool(root, path, bias, false))
                throw new InvalidDataException($"{path}: {bias} = true: expected false (the decoder's projections have no bias)");

        var theta = 10000.0;
        if (root["rope_parameters"] is JsonObject rope)
        {
            RequireDefaultRope(path, "rope_parameters.rope_type", rope["rope_type"]);
            theta = Number(rope, path, "rope_theta", theta, "rope_parameters.");
        }
        else theta = Number(root, path, "rope_theta", theta);
        if (root["rope_scaling"] is JsonObject scaling)
            RequireDefaultRope(path, "rope_scaling.rope_type", scaling["rope_type"] ?? scaling["type"]);

        var model = new ModelConfig
        {
            Dim = dim,
            NLayers = Int(root, path, "num_hidden_layers"),
            NHeads = heads,
            NKvHeads = kvHeads == heads ? 0 : kvHeads,
            VocabSize = Int(root, path, "vocab_size"),
            FfnHiddenDim = Int(root, path, "intermediate_size"),
            NormEps = Number(root, path, "rms_norm_eps", 1e-6),
            MaxSeqLen = Int(root, path, "max_position_embeddings", 2048),
            RopeTheta = theta,
        };
        return new HfLlamaConfig
        {
            Model = model,
            TieWordEmbeddings = Bool(root, path, "tie_word_embeddings", false),
            BosTokenId = OptionalId(root, "bos_token_id"),
            EosTokenId = OptionalId(root, "eos_token_id"),
            PadTokenId = OptionalId(root, "pad_token_id"),
        };
    }

    /// <summary>Writes a LlamaForCausalLM config.json for <paramref name="model"/> (untied head: this decoder's head is its own matrix).</summary>
    /// <param name="torchDtype">The weights' dtype as transformers spells it ("float32", "bfloat16").</param>
    public static void Write(ModelConfig model, string directory, string torchDtype = "float32", int? bosTokenId = null, int? eosTokenId = null, int? padTokenId = null)
    {
        var root = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_size"] = model.Dim,
            ["num_hidden_layers"] = model.NLayers,
            ["num_attention_heads"] = model.NHeads,
            ["num_key_value_heads"] = model.ResolvedKvHeads,
            ["head_dim"] = model.HeadDim,
            ["intermediate_size"] = model.ResolvedFfnHiddenDim,
            ["vocab_size"] = model.VocabSize,
            ["hidden_act"] = "silu",
            ["rms_norm_eps"] = model.NormEps,
            ["max_position_embeddings"] = model.MaxSeqLen,
            // Both spellings: transformers 5 reads rope_parameters, 4.x reads rope_theta.
            ["rope_theta"] = model.RopeTheta,
            ["rope_parameters"] = new JsonObject { ["rope_type"] = "default", ["rope_theta"] = model.RopeTheta },
            ["attention_bias"] = false,
            ["mlp_bias"] = false,
            ["tie_word_embeddings"] = false,
            ["initializer_range"] = model.InitStd,
            ["torch_dtype"] = torchDtype,
        };
        if (bosTokenId is { } bos) root["bos_token_id"] = bos;
        if (eosTokenId is { } eos) root["eos_token_id"] = eos;
        if (padTokenId is { } pad) root["pad_token_id"] = pad;
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, FileName), root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static void RequireDefaultRope(string path, string key, JsonNode? value)
    {
        var type = value?.GetValue<string>() ?? "default";
        if (type != "default")
            throw new InvalidDataException($"{path}: {key} = \"{type}\": expected \"default\" (the decoder's RoPE has no frequency scaling)");
    }

    private static int? OptionalId(JsonObject root, string key) =>
        root[key] is JsonValue v && v.TryGetValue<int>(out var id) ? id : null;

    private static int Int(JsonObject root, string path, string key, int? fallback = null)
    {
        var node = root[key];
        if (node is null)
            return fallback ?? throw new InvalidDataException($"{path}: no \"{key}\" (a Llama config.json has one)");
        if (node is JsonValue v && v.TryGetValue<int>(out var value)) return value;
        throw new InvalidDataException($"{path}: {key} = {node.ToJsonString()}: expected an integer");
    }

    private static double Number(JsonObject root, string path, string key, double fallback, string prefix = "")
    {
        var node = root[key];
        if (node is null) return fallback;
        if (node is JsonValue v && v.TryGetValue<double>(out var value)) return value;
        throw new InvalidDataException($"{path}: {prefix}{key} = {node.ToJsonString()}: expected a number");
    }

    private static bool Bool(JsonObject root, string path, string key, bool fallback)
    {
        var node = root[key];
        if (node is null) return fallback;
        if (node is JsonValue v && v.TryGetValue<bool>(out var value)) return value;
        throw new InvalidDataException($"{path}: {key} = {node.ToJsonString()}: expected true or false");
    }

    private static string Text(JsonObject root, string path, string key, string fallback)
    {
        var node = root[key];
        if (node is null) return fallback;
        if (node is JsonValue v && v.TryGetValue<string>(out var value)) return value;
        throw new InvalidDataException($"{path}: {key} = {node.ToJsonString()}: expected a string");
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"llama dim {Model.Dim}, {Model.NLayers} layers, {Model.NHeads} heads ({Model.ResolvedKvHeads} KV), vocab {Model.VocabSize}");
}
