using Forge.Model.Data;
using Forge.Model.Text;

namespace Forge.Model.Tests.Data;

public sealed class ImageTextDatasetTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string ManifestWithTruncatedImage()
    {
        var manifest = TestDataSets.WriteNumbered(_folder, "set.jsonl", 3);
        TestImages.WriteTruncatedPng(_folder.File("images/set-1.png"));
        return manifest;
    }

    [Fact]
    public void ImageThatFailsToDecodeLaterNamesManifestAndLine()
    {
        var manifest = ManifestWithTruncatedImage();
        var dataset = TestDataSets.Open(manifest); // the header is valid, so the load accepts it

        var error = Assert.Throws<InvalidDataException>(() => dataset.Batch([0, 1, 2]));

        Assert.Contains($"{manifest}:2:", error.Message);
        Assert.Contains("set-1.png", error.Message);
    }

    [Fact]
    public void SkippedUndecodableRowIsMaskedOutAndCountedOnce()
    {
        var dataset = TestDataSets.Open(ManifestWithTruncatedImage(), skipBadSamples: true);

        using (var first = dataset.Batch([0, 1, 2]))
        {
            var labels = first.Labels.data<long>().ToArray();
            var width = (int)first.Labels.shape[1];
            Assert.All(labels.Skip(width).Take(width), label => Assert.Equal(CaptionEncoder.IgnoreIndex, label));
            Assert.Contains(labels.Take(width), label => label != CaptionEncoder.IgnoreIndex);
            Assert.Contains(labels.Skip(2 * width), label => label != CaptionEncoder.IgnoreIndex);
        }
        using (dataset.Batch([1])) { }

        var bad = Assert.Single(dataset.BadSamples);
        Assert.Equal(2, bad.Line);
    }

    [Fact]
    public void BatchHasConfiguredShapesAndEncodedCaptions()
    {
        var dataset = TestDataSets.Open(TestDataSets.WriteNumbered(_folder, "set.jsonl", 3, imageSize: 8), imageSize: 4, maxTextLen: 12);

        using var batch = dataset.Batch([2, 0]);

        Assert.Equal([2, 3, 4, 4], batch.Images.shape);
        Assert.Equal([2, 12], batch.InputIds.shape);
        Assert.Equal([2, 12], batch.Labels.shape);
        Assert.Equal([2L, 0L], batch.SampleIndices);
        var firstRow = batch.InputIds[0].data<long>().ToArray();
        Assert.Equal("sample 2", dataset.Tokenizer.Decode(firstRow.Select(id => (int)id)));
    }
}
