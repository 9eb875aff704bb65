using Forge.Model.Data;
using Forge.Model.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Training.Fixtures;

/// <summary>
/// A deterministic stand-in for the image-text data set: sample i is a function of (seed, i) only.
/// Samples end in i % 4 padding positions, so ranks see different target-token counts and the
/// global token weighting is exercised. Rank r of W takes samples [G*r/W, G*(r+1)/W) of each step.
/// </summary>
public sealed class SyntheticCaptions(int globalBatchSize, long seed = 7, int textLength = 6, int imageSize = 4) : IBatchSource
{
    public int GlobalBatchSize => globalBatchSize;

    public IReadOnlyList<ImageTextBatch> MicroBatches(long step, int worldSize, int rank, int microBatchSize)
    {
        var first = step * globalBatchSize + (long)globalBatchSize * rank / worldSize;
        var end = step * globalBatchSize + (long)globalBatchSize * (rank + 1) / worldSize;
        var batches = new List<ImageTextBatch>();
        for (var start = first; start < end; start += microBatchSize)
            batches.Add(Batch(Enumerable.Range(0, (int)Math.Min(microBatchSize, end - start)).Select(k => start + k).ToArray()));
        return batches;
    }

    public DataCursor CursorAfter(long completedSteps) => new(0, completedSteps * globalBatchSize, completedSteps * globalBatchSize);

    public void Dispose() { }

    private ImageTextBatch Batch(long[] indices)
    {
        using var scope = NewDisposeScope();
        var images = new List<Tensor>();
        var ids = new List<Tensor>();
        var labels = new List<Tensor>();
        foreach (var i in indices)
        {
            using var generator = new Generator((ulong)(seed * 1_000_003 + i));
            images.Add(randn(new long[] { 3, imageSize, imageSize }, generator: generator));
            var tokens = randint(1, TinyCaptionModel.Vocab, new long[] { textLength }, generator: generator);
            var label = tokens.clone();
            label[0] = CaptionEncoder.IgnoreIndex;
            var padding = (int)(i % 4);
            if (padding > 0) label[TensorIndex.Slice(textLength - padding)] = CaptionEncoder.IgnoreIndex;
            ids.Add(tokens);
            labels.Add(label);
        }
        return new ImageTextBatch
        {
            Images = stack(images).MoveToOuterDisposeScope(),
            InputIds = stack(ids).MoveToOuterDisposeScope(),
            Labels = stack(labels).MoveToOuterDisposeScope(),
            SampleIndices = indices,
        };
    }
}
