using System.Text;

namespace Forge.Model.Text;

/// <summary>
/// UTF-8 bytes as ids 0..255, then BOS, EOS and pad: a 259-entry vocabulary that keeps the
/// embedding and output head of tiny test models small, and needs no vocabulary file.
/// </summary>
public sealed class ByteTokenizer : ITextTokenizer
{
    public const string TokenizerName = "byte";

    public string Name => TokenizerName;
    public int BosId => 256;
    public int EosId => 257;
    public int PadId => 258;
    public int VocabSize => 259;

    public IReadOnlyList<int> Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (var i = 0; i < bytes.Length; i++) ids[i] = bytes[i];
        return ids;
    }

    /// <summary>Invalid UTF-8 (a model may emit any byte sequence) decodes to U+FFFD rather than failing.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var bytes = ids.Where(id => id is >= 0 and < 256).Select(id => (byte)id).ToArray();
        return Encoding.UTF8.GetString(bytes);
    }
}
