using Microsoft.ML.Tokenizers;

namespace Forge.Model.Text;

/// <summary>
/// OpenAI's tiktoken BPE encodings (cl100k_base, o200k_base) through Microsoft.ML.Tokenizers and
/// its data packages, so no vocabulary is downloaded at run time.
/// EOS is the encoding's own &lt;|endoftext|&gt;. The encodings have no BOS or pad token, so, as
/// Llama 3 does with its reserved specials, BOS and pad get the two ids just past the encoding's
/// highest id; they never appear in text, so the library never has to encode or decode them.
/// </summary>
public sealed class TiktokenTextTokenizer : ITextTokenizer
{
    public const string Cl100kBase = "cl100k_base";
    public const string O200kBase = "o200k_base";
    private const string EndOfText = "<|endoftext|>";

    private readonly TiktokenTokenizer _bpe;
    private readonly HashSet<int> _specialIds;

    public TiktokenTextTokenizer(string encoding)
    {
        if (encoding is not (Cl100kBase or O200kBase))
            throw new ArgumentException($"unknown tiktoken encoding '{encoding}'; expected {Cl100kBase} or {O200kBase}", nameof(encoding));
        _bpe = TiktokenTokenizer.CreateForEncoding(encoding);
        var specials = _bpe.SpecialTokens ?? throw new InvalidOperationException($"{encoding} has no special tokens");
        if (!specials.TryGetValue(EndOfText, out var eos))
            throw new InvalidOperationException($"{encoding} lacks {EndOfText}");

        // tiktoken encodings number their special tokens after every mergeable rank, so the
        // highest special id is the highest id of the encoding (100276 for cl100k_base,
        // 200018 for o200k_base).
        var highest = specials.Values.Max();
        Name = encoding;
        EosId = eos;
        BosId = highest + 1;
        PadId = highest + 2;
        VocabSize = highest + 3;
        _specialIds = [.. specials.Values, BosId, PadId];
    }

    public string Name { get; }
    public int VocabSize { get; }
    public int BosId { get; }
    public int EosId { get; }
    public int PadId { get; }

    public IReadOnlyList<int> Encode(string text) => _bpe.EncodeToIds(text);

    public string Decode(IEnumerable<int> ids) =>
        _bpe.Decode(ids.Where(id => id >= 0 && id < VocabSize && !_specialIds.Contains(id)));
}
