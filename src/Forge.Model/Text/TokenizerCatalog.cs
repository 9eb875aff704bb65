using System.Collections.Concurrent;

namespace Forge.Model.Text;

/// <summary>
/// The tokenizers `data.tokenizer` can name, and Hugging Face tokenizer.json files by path. Instances are cached: the BPE tables take a
/// noticeable fraction of a second to load and every data set and rank can share one.
/// </summary>
public static class TokenizerCatalog
{
    public static IReadOnlyList<string> Names { get; } =
        [ByteTokenizer.TokenizerName, TiktokenTextTokenizer.Cl100kBase, TiktokenTextTokenizer.O200kBase];

    private static readonly ConcurrentDictionary<string, Lazy<ITextTokenizer>> Loaded = new();

    /// <param name="name">A name of <see cref="Names"/>, or the path of a Hugging Face tokenizer.json or of a model directory holding one.</param>
    public static ITextTokenizer Create(string name)
    {
        if (!Names.Contains(name) && !HfTokenizer.IsPath(name))
            throw new ArgumentException($"data.tokenizer = '{name}' is not a known tokenizer; expected one of {string.Join(", ", Names)}, or the path of a tokenizer.json or of a model directory holding one", nameof(name));
        return Loaded.GetOrAdd(name, key => new Lazy<ITextTokenizer>(() => Load(key))).Value;
    }

    private static ITextTokenizer Load(string name) => name switch
    {
        ByteTokenizer.TokenizerName => new ByteTokenizer(),
        TiktokenTextTokenizer.Cl100kBase or TiktokenTextTokenizer.O200kBase => new TiktokenTextTokenizer(name),
        _ => new HfTokenizer(name),
    };
}
