using Forge.Model.Data;
using Forge.Model.Modeling;
using static TorchSharp.torch;

namespace Forge.Model.Evaluation;

/// <summary>
/// Greedy caption generation for a few held-out images, so a user sees what the model learned.
/// <para>
/// Every forward pass has the training shape (B, max_text_len): the growing prefix followed by
/// pad. Causal attention makes the pad after the prefix irrelevant to the logits read, and a
/// fixed shape means the model never sees a sequence length it was not trained on. Each row
/// reads the logits at its own last position, so rows with prompts of different lengths share
/// one batch. A row ends at EOS or when max_text_len is full.
/// </para>
/// </summary>
public sealed class GreedyCaptioner
{
    public GreedyCaptioner(ImageTextDataset heldOut)
    {
        HeldOut = heldOut;
    }

    public ImageTextDataset HeldOut { get; }

    public IReadOnlyList<GeneratedCaption> Generate(ITrainableModel model, IReadOnlyList<int> rows, Device device)
    {
        if (rows.Count == 0) return [];
        var tokenizer = HeldOut.Tokenizer;
        var width = HeldOut.Captions.MaxTextLen;
        var count = rows.Count;

        var ids = new long[count * width];
        Array.Fill(ids, (long)tokenizer.PadId);
        var lengths = new int[count];
        var generated = new List<int>[count];
        var finished = new bool[count];
        for (var i = 0; i < count; i++)
        {
            var prefix = HeldOut.Captions.GenerationPrefix(HeldOut[rows[i]].Prompt);
            for (var t = 0; t < prefix.Count; t++) ids[i * width + t] = prefix[t];
            lengths[i] = prefix.Count;
            generated[i] = [];
            finished[i] = lengths[i] >= width;
        }

        using var inference = new InferenceMode(model);
        using var scope = NewDisposeScope();
        var images = HeldOut.Batch(rows).Images.to(device);
        while (finished.Contains(false))
        {
            using var stepScope = NewDisposeScope();
            var logits = model.Logits(images, tensor(ids, [count, width]).to(device));
            var lastPositions = tensor(lengths.Select(l => (long)(l - 1)).ToArray(), [count, 1, 1]).to(device)
                .expand(count, 1, logits.shape[2]);
            var next = logits.gather(1, lastPositions).squeeze(1).argmax(-1).cpu().data<long>().ToArray();
            for (var i = 0; i < count; i++)
            {
                if (finished[i]) continue;
                var token = (int)next[i];
                if (token == tokenizer.EosId)
                {
                    finished[i] = true;
                    continue;
                }
                ids[i * width + lengths[i]] = token;
                generated[i].Add(token);
                finished[i] = ++lengths[i] >= width;
            }
        }

        return [.. rows.Select((row, i) => new GeneratedCaption(HeldOut[row].ImagePath, HeldOut[row].Caption, tokenizer.Decode(generated[i])))];
    }
}
