using Forge.Model.Data;

namespace Forge.Model.Tests.Data;

public sealed class PrefetchingBatchSourceTests : IDisposable
{
    private const int Samples = 10;
    private const int GlobalBatch = 4;
    private readonly TemporaryFolder _folder = new();
    private readonly ImageTextDataset _dataset;

    public PrefetchingBatchSourceTests()
    {
        _dataset = TestDataSets.Open(TestDataSets.WriteNumbered(_folder, "set.jsonl", Samples));
    }

    public void Dispose() => _folder.Dispose();

    private PrefetchingBatchSource Source(int prefetch, int workers = 2) => new(_dataset, GlobalBatch, seed: 3, workers, prefetch);

    /// <summary>Everything a batch holds, per global sample index, as plain values.</summary>
    private static List<(long Index, float[] Image, long[] Ids, long[] Labels)> Rows(IReadOnlyList<ImageTextBatch> batches)
    {
        var rows = new List<(long, float[], long[], long[])>();
        foreach (var batch in batches)
            using (batch)
                for (var i = 0; i < batch.Size; i++)
                    rows.Add((batch.SampleIndices[i], batch.Images[i].data<float>().ToArray(),
                        batch.InputIds[i].data<long>().ToArray(), batch.Labels[i].data<long>().ToArray()));
        return rows;
    }

    private static void AssertSameRows(
        List<(long Index, float[] Image, long[] Ids, long[] Labels)> expected,
        List<(long Index, float[] Image, long[] Ids, long[] Labels)> actual)
    {
        Assert.Equal(expected.Select(r => r.Index), actual.Select(r => r.Index));
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Image, actual[i].Image);
            Assert.Equal(expected[i].Ids, actual[i].Ids);
            Assert.Equal(expected[i].Labels, actual[i].Labels);
        }
    }

    [Fact]
    public void WorldSize2To3To1ServesTheOneRankSamplesWithNoRepeatsOrGaps()
    {
        int[] worldAtStep = [2, 2, 2, 3, 3, 3, 1, 1, 1, 1]; // 40 samples: 4 epochs of 10
        using var elastic = Source(prefetch: 2);
        using var single = Source(prefetch: 0);

        var elasticRows = new List<(long Index, float[] Image, long[] Ids, long[] Labels)>();
        for (var step = 0; step < worldAtStep.Length; step++)
            for (var rank = 0; rank < worldAtStep[step]; rank++)
                elasticRows.AddRange(Rows(elastic.MicroBatches(step, worldAtStep[step], rank, microBatchSize: 1)));
        var singleRows = Enumerable.Range(0, worldAtStep.Length)
            .SelectMany(step => Rows(single.MicroBatches(step, 1, 0, microBatchSize: 3))).ToList();

        AssertSameRows(singleRows, elasticRows);
        Assert.Equal(Enumerable.Range(0, worldAtStep.Length * GlobalBatch).Select(i => (long)i), elasticRows.Select(r => r.Index).Order());
        Assert.True(elastic.PrefetchStats.Hits > 0, "steps after the first of each world should come from the prefetch queue");
    }

    [Fact]
    public void PrefetchedBatchesEqualSynchronouslyDecodedOnes()
    {
        using var ahead = Source(prefetch: 4);
        using var inline = Source(prefetch: 0);

        for (var step = 0; step < 6; step++)
            for (var rank = 0; rank < 2; rank++)
                AssertSameRows(Rows(inline.MicroBatches(step, 2, rank, 2)), Rows(ahead.MicroBatches(step, 2, rank, 2)));

        Assert.Equal((0L, 12L), inline.PrefetchStats);
        Assert.Equal(10L, ahead.PrefetchStats.Hits); // all but each rank's first step
    }

    [Fact]
    public void UnexpectedRequestIsServedSynchronouslyWithTheSameData()
    {
        using var ahead = Source(prefetch: 3);
        using var inline = Source(prefetch: 0);
        for (var step = 0; step < 3; step++) Rows(ahead.MicroBatches(step, 1, 0, 4));
        var missesBefore = ahead.PrefetchStats.Misses;

        var jumped = Rows(ahead.MicroBatches(17, 3, 2, 4)); // a rollback-or-rescale sized jump

        Assert.Equal(missesBefore + 1, ahead.PrefetchStats.Misses);
        AssertSameRows(Rows(inline.MicroBatches(17, 3, 2, 4)), jumped);
    }

    [Fact]
    public void RankSliceIsSplitIntoMicroBatchesOfAtMostTheGivenSize()
    {
        using var source = Source(prefetch: 1);

        var batches = source.MicroBatches(0, 1, 0, microBatchSize: 3);

        Assert.Equal([3, 1], batches.Select(b => b.Size));
        Assert.All(batches, b => Assert.Equal([b.Size, 3, 4, 4], b.Images.shape));
        foreach (var batch in batches) batch.Dispose();
    }

    [Fact]
    public void LoaderThreadErrorsReachTheCallerNamingFileAndLine()
    {
        TestImages.WriteTruncatedPng(_folder.File("images/set-4.png"));
        using var source = new PrefetchingBatchSource(TestDataSets.Open(_folder.File("set.jsonl")), Samples, seed: 3, workers: 2, prefetch: 2);

        // Every step holds all 10 rows: step 0 decodes on this thread, step 1 on the loaders.
        var inline = Assert.Throws<InvalidDataException>(() => source.MicroBatches(0, 1, 0, Samples));
        var loaded = Assert.Throws<InvalidDataException>(() => source.MicroBatches(1, 1, 0, Samples));

        Assert.Equal((1L, 1L), source.PrefetchStats);
        Assert.All([inline, loaded], e => Assert.Contains($"set.jsonl:5:", e.Message));
    }

    [Fact]
    public void CursorFollowsTheSampler()
    {
        using var source = Source(prefetch: 0);

        Assert.Equal(new DataCursor(2, 4, 24), source.CursorAfter(6));
    }

    [Fact]
    public void DisposedSourceRefusesRequests()
    {
        var source = Source(prefetch: 2);
        source.MicroBatches(0, 1, 0, 4).ToList().ForEach(b => b.Dispose());

        source.Dispose();

        Assert.Throws<ObjectDisposedException>(() => source.MicroBatches(1, 1, 0, 4));
    }
}
