namespace Forge.Model.Text;

/// <summary>
/// A caption tokenizer: text to ids and back, plus the three special ids a captioning model
/// needs. <see cref="Encode"/> never emits special ids; <see cref="CaptionEncoder"/> adds them.
/// Implementations are immutable and safe to share between data-loading threads.
/// </summary>
public interface ITextTokenizer
{
    /// <summary>The name `data.tokenizer` selects it by.</summary>
    string Name { get; }

    /// <summary>Every id (special ones included) lies in [0, VocabSize); the model's vocab_size must be at least this.</summary>
    int VocabSize { get; }

    int BosId { get; }
    int EosId { get; }
    int PadId { get; }

    /// <summary>The ids of the text, without BOS/EOS/pad.</summary>
    IReadOnlyList<int> Encode(string text);

    /// <summary>The text of the ids; BOS, EOS and pad ids are dropped.</summary>
    string Decode(IEnumerable<int> ids);
}
