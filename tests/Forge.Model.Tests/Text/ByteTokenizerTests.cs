using Forge.Model.Text;

namespace Forge.Model.Tests.Text;

public sealed class ByteTokenizerTests
{
    private readonly ByteTokenizer _tokenizer = new();

    [Theory]
    [InlineData("grinning face with smiling eyes")]
    [InlineData("côte d’ivoire flag")]
    [InlineData("")]
    public void EncodeThenDecodeRestoresTheText(string text)
    {
        var ids = _tokenizer.Encode(text);

        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(text), ids.Count);
        Assert.Equal(text, _tokenizer.Decode(ids));
    }

    [Fact]
    public void SpecialIdsAreDistinctAndAboveEveryByte()
    {
        int[] specials = [_tokenizer.BosId, _tokenizer.EosId, _tokenizer.PadId];

        Assert.Equal(3, specials.Distinct().Count());
        Assert.All(specials, id => Assert.InRange(id, 256, _tokenizer.VocabSize - 1));
        Assert.All(_tokenizer.Encode("every byte \u00ff\u4e00"), id => Assert.InRange(id, 0, 255));
    }

    [Fact]
    public void DecodeDropsSpecialIds()
    {
        var ids = new List<int> { _tokenizer.BosId };
        ids.AddRange(_tokenizer.Encode("cat"));
        ids.AddRange([_tokenizer.EosId, _tokenizer.PadId, _tokenizer.PadId]);

        Assert.Equal("cat", _tokenizer.Decode(ids));
    }
}
