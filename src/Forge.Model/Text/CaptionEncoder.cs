namespace Forge.Model.Text;

/// <summary>
/// Lays a (prompt, caption) pair out as one fixed-length row of `vlm.max_text_len` ids:
/// <c>BOS, prompt…, caption…, EOS, pad…</c>, and its labels (aligned, not shifted): the caption
/// tokens and EOS are targets; BOS, prompt and pad positions are -100.
/// <para>
/// Truncation keeps EOS: a row that does not fit loses tokens from the end of the caption (then
/// of the prompt), and its last position is still EOS. Every row therefore has exactly one EOS
/// target, so the model always learns to stop within max_text_len and greedy generation always
/// has a learned end; the price is that a truncated caption is taught as ending early.
/// </para>
/// </summary>
public sealed class CaptionEncoder
{
    /// <summary>
    /// The label of a position that carries no loss. The one definition: the encoder writes it, and
    /// batches, the loss and the engine read it. -100 is torch's cross_entropy default ignore_index.
    /// </summary>
    public const long IgnoreIndex = -100;

    public CaptionEncoder(ITextTokenizer tokenizer, int maxTextLen)
    {
        if (maxTextLen < 2)
            throw new ArgumentOutOfRangeException(nameof(maxTextLen), maxTextLen, "vlm.max_text_len must be at least 2 (BOS and EOS)");
        Tokenizer = tokenizer;
        MaxTextLen = maxTextLen;
    }

    public ITextTokenizer Tokenizer { get; }
    public int MaxTextLen { get; }

    /// <summary>Writes one row into spans of length <see cref="MaxTextLen"/>; returns how many caption tokens survived truncation.</summary>
    public int Encode(string? prompt, string caption, Span<long> inputIds, Span<long> labels)
    {
        if (inputIds.Length != MaxTextLen || labels.Length != MaxTextLen)
            throw new ArgumentException($"row spans must have length max_text_len = {MaxTextLen}");

        var promptIds = string.IsNullOrEmpty(prompt) ? [] : Tokenizer.Encode(prompt);
        var captionIds = Tokenizer.Encode(caption);

        // Room between BOS and EOS.
        var room = MaxTextLen - 2;
        var promptKept = Math.Min(promptIds.Count, room);
        var captionKept = Math.Min(captionIds.Count, room - promptKept);

        inputIds.Fill(Tokenizer.PadId);
        labels.Fill(IgnoreIndex);
        var t = 0;
        inputIds[t++] = Tokenizer.BosId;
        for (var i = 0; i < promptKept; i++) inputIds[t++] = promptIds[i];
        for (var i = 0; i < captionKept; i++, t++)
        {
            inputIds[t] = captionIds[i];
            labels[t] = captionIds[i];
        }
        inputIds[t] = Tokenizer.EosId;
        labels[t] = Tokenizer.EosId;
        return captionKept;
    }

    /// <summary>The ids that start generation for a prompt: BOS and the (truncated) prompt.</summary>
    public IReadOnlyList<int> GenerationPrefix(string? prompt)
    {
        var promptIds = string.IsNullOrEmpty(prompt) ? [] : Tokenizer.Encode(prompt);
        return [Tokenizer.BosId, .. promptIds.Take(MaxTextLen - 2)];
    }
}
