using Forge.Model.Data;
using Forge.Model.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Evaluation;

/// <summary>
/// Mean token loss on the held-out manifest. The rows evaluated are a fixed, seeded order of the
/// held-out set (the same at every evaluation, so numbers are comparable across steps) and, when
/// maxBatches is set, only its first batches — the seeded order makes that prefix a spread over
/// the whole set rather than, say, its first category.
/// </summary>
public sealed class HeldOutEvaluator
{
    public HeldOutEvaluator(ImageTextDataset heldOut, long seed)
    {
        HeldOut = heldOut;
        Rows = new DeterministicSampler(heldOut.Count, seed, globalBatchSize: 1).Permutation(0);
    }

    public ImageTextDataset HeldOut { get; }

    /// <summary>Held-out rows in evaluation order.</summary>
    public IReadOnlyList<int> Rows { get; }

    /// <summary>
    /// Loss over the first maxBatches * batchSize rows (all rows when maxBatches is 0). With a world
    /// of several ranks each evaluates its contiguous share; adding the ranks' results gives the
    /// one-rank result.
    /// </summary>
    public EvalResult Evaluate(ITrainableModel model, Device device, int batchSize, int maxBatches = 0, int worldSize = 1, int rank = 0)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "eval batch size must be positive");
        var total = maxBatches > 0 ? Math.Min(Rows.Count, maxBatches * batchSize) : Rows.Count;
        var (offset, count) = DeterministicSampler.RankSlice(total, worldSize, rank);
        var mine = Rows.Skip(offset).Take(count);

        var result = EvalResult.Empty;
        using var inference = new InferenceMode(model);
        foreach (var rows in mine.Chunk(batchSize))
        {
            using var scope = NewDisposeScope();
            var batch = HeldOut.Batch(rows).To(device);
            var (lossSum, tokens) = model.LossSum(batch);
            result = result.Plus(new EvalResult(lossSum.ToDouble(), tokens, rows.Length));
        }
        return result;
    }
}
