using static TorchSharp.torch;

namespace Forge.Model.Data;

/// <summary>
/// A decoded micro-batch in plain managed arrays. Background threads build these; tensors are made
/// only in <see cref="ToBatch"/>, on the thread that trains, so the tensors land in that thread's
/// dispose scope (TorchSharp scopes are per thread) instead of leaking from a loader thread.
/// </summary>
internal sealed class CollatedBatch
{
    public CollatedBatch(IReadOnlyList<int> datasetRows, long[] sampleIndices, int imageSize, int maxTextLen)
    {
        if (datasetRows.Count != sampleIndices.Length)
            throw new ArgumentException($"{datasetRows.Count} data set rows for {sampleIndices.Length} sample indices");
        DatasetRows = datasetRows;
        SampleIndices = sampleIndices;
        ImageSize = imageSize;
        MaxTextLen = maxTextLen;
        Pixels = new float[Rows * 3 * imageSize * imageSize];
        InputIds = new long[Rows * maxTextLen];
        Labels = new long[Rows * maxTextLen];
    }

    /// <summary>The data set row each batch row is decoded from.</summary>
    public IReadOnlyList<int> DatasetRows { get; }
    public long[] SampleIndices { get; }
    public int Rows => SampleIndices.Length;
    public int ImageSize { get; }
    public int MaxTextLen { get; }
    public float[] Pixels { get; }
    public long[] InputIds { get; }
    public long[] Labels { get; }

    public Span<float> PixelsOf(int row) => Pixels.AsSpan(row * 3 * ImageSize * ImageSize, 3 * ImageSize * ImageSize);
    public Span<long> InputIdsOf(int row) => InputIds.AsSpan(row * MaxTextLen, MaxTextLen);
    public Span<long> LabelsOf(int row) => Labels.AsSpan(row * MaxTextLen, MaxTextLen);

    /// <summary>
    /// Wraps the arrays without copying (from_array pins them until the tensors are freed), so a
    /// batch costs the caller microseconds rather than a copy of every pixel. Call at most once:
    /// the tensors share the arrays.
    /// </summary>
    public ImageTextBatch ToBatch() => new()
    {
        Images = Shaped(Pixels, Rows, 3, ImageSize, ImageSize),
        InputIds = Shaped(InputIds, Rows, MaxTextLen),
        Labels = Shaped(Labels, Rows, MaxTextLen),
        SampleIndices = SampleIndices,
    };

    // The view keeps the pinned storage alive after the flat handle is disposed.
    private static Tensor Shaped(Array values, params long[] shape)
    {
        using var flat = from_array(values);
        return flat.view(shape);
    }
}
