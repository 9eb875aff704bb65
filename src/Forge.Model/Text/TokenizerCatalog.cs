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

    /// <summary>
    /// Each tokenizer's <see cref="ITextTokenizer.VocabSize"/> without loading its table, so config
    /// validation can check model.vocab_size in no time: the byte tokenizer's 256 bytes plus BOS, EOS
    /// and PAD; a BPE table's highest id plus those three.
    /// </summary>
    public static IReadOnlyDictionary<string, int> VocabSizes { get; } = new Dictionary<string, int>
    {
        [ByteTokenizer.TokenizerName] = 259,
        [TiktokenTextTokenizer.Cl100kBase] = 100_279,
        [TiktokenTextTokenizer.O200kBase] = 200_021,
    };

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
