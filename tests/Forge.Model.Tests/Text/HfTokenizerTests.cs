using System.Text.Json;
using Forge.Model.Tests.Pretrained;
using Forge.Model.Text;

namespace Forge.Model.Tests.Text;

public sealed class HfTokenizerTests
{
    private sealed record Case(string text, int[] ids, string decoded);
    private sealed record Cases(int bos_id, int eos_id, int pad_id, int vocab_size, Case[] cases);

    private static Cases Reference() =>
        JsonSerializer.Deserialize<Cases>(File.ReadAllText(HfFixtures.Reference("tokenizer_cases.json")))!;

    [Fact]
    public void IdsMatchTheTokenizersPackageOnTheLlama3StyleFixture()
    {
        var tokenizer = TokenizerCatalog.Create(HfFixtures.Dir("llama"));
        var reference = Reference();
        foreach (var c in reference.cases)
        {
            Assert.Equal(c.ids, tokenizer.Encode(c.text));
            Assert.Equal(c.decoded, tokenizer.Decode(c.ids));
        }
    }

    [Fact]
    public void SpecialIdsComeFromTokenizerConfigAndStayOutOfDecodedText()
    {
        var tokenizer = new HfTokenizer(Path.Combine(HfFixtures.Dir("llama"), HfTokenizer.FileName));
        var reference = Reference();
        Assert.Equal((reference.bos_id, reference.eos_id, reference.pad_id), (tokenizer.BosId, tokenizer.EosId, tokenizer.PadId));
        Assert.Equal(reference.vocab_size, tokenizer.VocabSize);
        var ids = tokenizer.Encode("smiling face");
        Assert.Equal("smiling face", tokenizer.Decode([tokenizer.BosId, .. ids, tokenizer.EosId, tokenizer.PadId]));
    }

    [Fact]
    public void ATokenizerOfAnotherKindIsRefusedByItsKey()
    {
        var dir = Directory.CreateTempSubdirectory("forge-tok-").FullName;
        try
        {
            var json = File.ReadAllText(Path.Combine(HfFixtures.Dir("llama"), HfTokenizer.FileName))
                .Replace("\"normalizer\": null", "\"normalizer\": {\"type\": \"NFC\"}");
            File.WriteAllText(Path.Combine(dir, HfTokenizer.FileName), json);
            var e = Assert.Throws<InvalidDataException>(() => new HfTokenizer(dir));
            Assert.Contains("normalizer.type = \"NFC\"", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
