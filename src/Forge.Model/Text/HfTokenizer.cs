using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Forge.Model.Text;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> of the byte-level BPE kind that Llama 3 and SmolLM ship,
/// run by Microsoft.ML.Tokenizers' BPE with its byte-level mode. The pre-tokenizer is read from the
/// file: a Split regex followed by a regex-free ByteLevel (Llama 3), a ByteLevel with its own GPT-2
/// regex (GPT-2, SmolLM), optionally after Digits (SmolLM splits numbers into single digits). Other
/// normalizers, pre-tokenizers and models are refused by name rather than approximated.
/// BOS, EOS and pad come from tokenizer_config.json beside the file when it names them, else from
/// the usual special-token spellings; without a pad token, EOS pads (the loss masks pad positions).
/// </summary>
public sealed class HfTokenizer : ITextTokenizer
{
    public const string FileName = "tokenizer.json";
    public const string ConfigFileName = "tokenizer_config.json";

    // The split GPT-2's byte-level pre-tokenizer applies when use_regex is true (tokenizers' ByteLevel).
    private const string Gpt2Split = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly BpeTokenizer _bpe;
    private readonly HashSet<int> _specialIds;

    public string Name { get; }
    public int VocabSize { get; }
    public int BosId { get; }
    public int EosId { get; }
    public int PadId { get; }

    /// <summary>Whether <paramref name="nameOrPath"/> names a tokenizer.json or a directory holding one.</summary>
    public static bool IsPath(string nameOrPath) =>
        (File.Exists(nameOrPath) && nameOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        || File.Exists(Path.Combine(nameOrPath, FileName));

    /// <param name="path">A tokenizer.json, or a model directory holding one.</param>
    /// <exception cref="InvalidDataException">A tokenizer this class cannot reproduce; names the JSON key.</exception>
    public HfTokenizer(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, FileName) : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"{path}: no {FileName}", file);
        Name = path;
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(file)) as JsonObject ?? throw new InvalidDataException($"{file}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: not valid JSON: {e.Message}", e);
        }

        var model = root["model"] as JsonObject ?? throw new InvalidDataException($"{file}: no \"model\" object");
        var type = model["type"]?.GetValue<string>();
        if (type != "BPE") throw new InvalidDataException($"{file}: model.type = \"{type}\": expected \"BPE\" (byte-level BPE)");
        if (root["normalizer"] is JsonObject normalizer)
            throw new InvalidDataException($"{file}: normalizer.type = \"{normalizer["type"]}\": expected null (byte-level BPE tokenizers normalise nothing)");
        var vocab = (model["vocab"] as JsonObject ?? throw new InvalidDataException($"{file}: no model.vocab object"))
            .Select(kv => new KeyValuePair<string, int>(kv.Key, kv.Value!.GetValue<int>())).ToList();
        var merges = (model["merges"] as JsonArray ?? throw new InvalidDataException($"{file}: no model.merges array"))
            .Select(m => m is JsonArray pair ? $"{pair[0]!.GetValue<string>()} {pair[1]!.GetValue<string>()}" : m!.GetValue<string>())
            .ToList();

        var added = (root["added_tokens"] as JsonArray ?? [])
            .OfType<JsonObject>()
            .Select(t => (Content: t["content"]!.GetValue<string>(), Id: t["id"]!.GetValue<int>(), Special: t["special"]?.GetValue<bool>() ?? false))
            .ToList();

        _bpe = BpeTokenizer.Create(new BpeOptions(vocab)
        {
            Merges = merges,
            ByteLevel = true,
            PreTokenizer = PreTokenizerOf(root["pre_tokenizer"], file),
        });

        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (content, id, _) in added) ids[content] = id;
        var config = ReadConfig(Path.GetDirectoryName(Path.GetFullPath(file))!);
        int? Special(string key, params string[] spellings)
        {
            if (config.TryGetValue(key, out var named) && ids.TryGetValue(named, out var id)) return id;
            foreach (var s in spellings)
                if (ids.TryGetValue(s, out var found)) return found;
            return null;
        }
        var eos = Special("eos_token", "<|end_of_text|>", "<|endoftext|>", "</s>", "<|im_end|>")
                  ?? throw new InvalidDataException($"{file}: no end-of-text token among added_tokens (nor named by {ConfigFileName} eos_token)");
        EosId = eos;
        BosId = Special("bos_token", "<|begin_of_text|>", "<s>", "<|endoftext|>") ?? eos;
        PadId = Special("pad_token", "<|finetune_right_pad_id|>", "<pad>", "<|pad|>") ?? eos;
        _specialIds = [.. added.Where(t => t.Special).Select(t => t.Id), BosId, EosId, PadId];
        VocabSize = Math.Max(vocab.Max(kv => kv.Value), added.Count == 0 ? 0 : added.Max(t => t.Id)) + 1;
    }

    public IReadOnlyList<int> Encode(string text) => _bpe.EncodeToIds(text);

    public string Decode(IEnumerable<int> ids) =>
        _bpe.Decode(ids.Where(id => id >= 0 && id < VocabSize && !_specialIds.Contains(id)));

    private static PreTokenizer PreTokenizerOf(JsonNode? node, string file)
    {
        var steps = node is JsonObject { } o && o["type"]?.GetValue<string>() == "Sequence"
            ? (o["pretokenizers"] as JsonArray ?? []).OfType<JsonObject>().ToList()
            : node is JsonObject single ? [single] : [];
        if (steps.Count == 0) throw new InvalidDataException($"{file}: no pre_tokenizer (byte-level BPE needs ByteLevel)");

        var splits = new List<PreTokenizer>();
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            var kind = step["type"]?.GetValue<string>();
            var last = i == steps.Count - 1;
            switch (kind)
            {
                case "Split" when !last:
                    var behavior = step["behavior"]?.GetValue<string>();
                    if (behavior != "Isolated" || (step["invert"]?.GetValue<bool>() ?? false))
                        throw new InvalidDataException($"{file}: pre_tokenizer Split behavior = \"{behavior}\": expected \"Isolated\", not inverted");
                    var pattern = step["pattern"]?["Regex"]?.GetValue<string>()
                                  ?? throw new InvalidDataException($"{file}: pre_tokenizer Split has no pattern.Regex");
                    splits.Add(new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), null));
                    break;
                case "Digits" when !last:
                    // individual_digits: every digit its own piece; otherwise runs of digits.
                    var individual = step["individual_digits"]?.GetValue<bool>() ?? false;
                    splits.Add(new RegexPreTokenizer(new Regex(individual ? @"\p{N}|[^\p{N}]+" : @"\p{N}+|[^\p{N}]+", RegexOptions.Compiled), null));
                    break;
                case "ByteLevel" when last:
                    if (step["add_prefix_space"]?.GetValue<bool>() ?? false)
                        throw new InvalidDataException($"{file}: pre_tokenizer ByteLevel add_prefix_space = true: expected false");
                    if (step["use_regex"]?.GetValue<bool>() ?? true)
                        splits.Add(new RegexPreTokenizer(new Regex(Gpt2Split, RegexOptions.Compiled), null));
                    break;
                default:
                    throw new InvalidDataException(
                        $"{file}: pre_tokenizer step {i} is \"{kind}\": expected Split or Digits steps followed by one ByteLevel (Llama 3, GPT-2, SmolLM)");
            }
        }
        if (steps[^1]["type"]?.GetValue<string>() != "ByteLevel")
            throw new InvalidDataException($"{file}: the pre_tokenizer does not end in ByteLevel: not a byte-level BPE");
        if (splits.Count == 0)
            throw new InvalidDataException($"{file}: pre_tokenizer ByteLevel use_regex = false with no Split before it: the text would be one piece");
        return splits.Count == 1 ? splits[0] : new CompositePreTokenizer(splits, null);
    }

    private static Dictionary<string, string> ReadConfig(string directory)
    {
        var path = Path.Combine(directory, ConfigFileName);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(path)) return names;
        if (JsonNode.Parse(File.ReadAllText(path)) is not JsonObject root) return names;
        foreach (var key in new[] { "bos_token", "eos_token", "pad_token" })
        {
            var value = root[key];
            var content = value is JsonObject o ? o["content"]?.GetValue<string>() : value is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            if (content is not null) names[key] = content;
        }
        return names;
    }
}
