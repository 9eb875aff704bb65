using Forge.Model.Text;

namespace Forge.Model.Tests.Text;

public sealed class TiktokenTextTokenizerTests
{
    [Theory]
    [InlineData(TiktokenTextTokenizer.Cl100kBase)]
    [InlineData(TiktokenTextTokenizer.O200kBase)]
    public void EncodeThenDecodeRestoresTheText(string encoding)
    {
        var tokenizer = TokenizerCatalog.Create(encoding);
        const string text = "smiling face with open mouth and smiling eyes, medium-dark skin tone; côte d’ivoire flag";

        var ids = tokenizer.Encode(text);

        Assert.InRange(ids.Count, 1, System.Text.Encoding.UTF8.GetByteCount(text) / 2); // BPE merges, unlike bytes
        Assert.Equal(text, tokenizer.Decode(ids));
    }

    [Theory]
    [InlineData(TiktokenTextTokenizer.Cl100kBase)]
    [InlineData(TiktokenTextTokenizer.O200kBase)]
    public void BosAndPadLieAboveEveryEncodingIdAndEosIsEndOfText(string encoding)
    {
        var tokenizer = TokenizerCatalog.Create(encoding);
        var textIds = tokenizer.Encode("a varied sample: 12345 ÄÖÜ 日本語 emoji 😀 <tags> \t\n");

        Assert.All(textIds, id => Assert.InRange(id, 0, tokenizer.EosId - 1));
        Assert.True(tokenizer.BosId > tokenizer.EosId);
        Assert.Equal(tokenizer.BosId + 1, tokenizer.PadId);
        Assert.Equal(tokenizer.PadId + 1, tokenizer.VocabSize);
        Assert.Equal("", tokenizer.Decode([tokenizer.BosId, tokenizer.EosId, tokenizer.PadId]));
    }

    [Fact]
    public void Cl100kMatchesTheReferenceTiktokenIds()
    {
        // tiktoken: enc = get_encoding("cl100k_base"); enc.encode("hello world") == [15339, 1917]; enc.eot_token == 100257.
        var tokenizer = TokenizerCatalog.Create(TiktokenTextTokenizer.Cl100kBase);

        Assert.Equal([15339, 1917], tokenizer.Encode("hello world"));
        Assert.Equal(100257, tokenizer.EosId);
    }

    [Fact]
    public void UnknownTokenizerNameIsRejectedNamingTheKey()
    {
        var error = Assert.Throws<ArgumentException>(() => TokenizerCatalog.Create("gpt2"));

        Assert.Contains("data.tokenizer", error.Message);
        Assert.Contains("gpt2", error.Message);
    }
}
