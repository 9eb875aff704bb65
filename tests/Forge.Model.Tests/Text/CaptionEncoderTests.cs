using Forge.Model.Data;
using Forge.Model.Text;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Text;

public sealed class CaptionEncoderTests
{
    private const long Ignore = CaptionEncoder.IgnoreIndex;
    private readonly ByteTokenizer _tokenizer = new();

    private (long[] Ids, long[] Labels) Encode(string? prompt, string caption, int maxTextLen)
    {
        var ids = new long[maxTextLen];
        var labels = new long[maxTextLen];
        new CaptionEncoder(_tokenizer, maxTextLen).Encode(prompt, caption, ids, labels);
        return (ids, labels);
    }

    [Fact]
    public void RowIsBosPromptCaptionEosThenPadAndOnlyCaptionAndEosAreTargets()
    {
        var (ids, labels) = Encode("a:", "cat", 10);

        long bos = _tokenizer.BosId, eos = _tokenizer.EosId, pad = _tokenizer.PadId;
        Assert.Equal([bos, 'a', ':', 'c', 'a', 't', eos, pad, pad, pad], ids);
        Assert.Equal([Ignore, Ignore, Ignore, 'c', 'a', 't', eos, Ignore, Ignore, Ignore], labels);
    }

    [Fact]
    public void TruncationCutsTheCaptionEndAndKeepsEosAsTheLastTarget()
    {
        var (ids, labels) = Encode(null, "grinning face", 6);

        long bos = _tokenizer.BosId, eos = _tokenizer.EosId;
        Assert.Equal([bos, 'g', 'r', 'i', 'n', eos], ids);
        Assert.Equal([Ignore, 'g', 'r', 'i', 'n', eos], labels);
    }

    [Fact]
    public void PromptFillingTheRowLeavesEosAsTheOnlyTarget()
    {
        var (ids, labels) = Encode("a very long prompt", "cat", 5);

        Assert.Equal(_tokenizer.EosId, ids[^1]);
        Assert.Equal([Ignore, Ignore, Ignore, Ignore, _tokenizer.EosId], labels);
    }

    [Fact]
    public void TargetTokensOfABatchCountCaptionTokensPlusEos()
    {
        var ids = new long[2 * 12];
        var labels = new long[2 * 12];
        var encoder = new CaptionEncoder(_tokenizer, 12);
        encoder.Encode("q", "dog", ids.AsSpan(0, 12), labels.AsSpan(0, 12));
        encoder.Encode(null, "a long caption", ids.AsSpan(12, 12), labels.AsSpan(12, 12));
        using var batch = new ImageTextBatch
        {
            Images = zeros(2, 3, 1, 1),
            InputIds = tensor(ids, [2, 12]),
            Labels = tensor(labels, [2, 12]),
            SampleIndices = [0, 1],
        };

        // "dog" + EOS, and the 10 caption bytes that fit beside BOS and EOS, + EOS.
        Assert.Equal(4 + 11, batch.TargetTokens());
    }

    [Fact]
    public void GenerationPrefixIsBosAndPrompt()
    {
        var encoder = new CaptionEncoder(_tokenizer, 8);

        Assert.Equal([_tokenizer.BosId, 'h', 'i'], encoder.GenerationPrefix("hi"));
        Assert.Equal([_tokenizer.BosId], encoder.GenerationPrefix(null));
    }

    [Fact]
    public void RowsShorterThanBosPlusEosAreRejected()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new CaptionEncoder(_tokenizer, 1));
        Assert.Contains("vlm.max_text_len", error.Message);
    }
}
