using Forge.Model.Data;
using SkiaSharp;

namespace Forge.Model.Tests.Data;

public sealed class ImageTextManifestTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public ImageTextManifestTests()
    {
        TestImages.WriteSolid(_folder.File("sub/images/a.png"), 4, SKColors.Red);
        TestImages.WriteSolid(_folder.File("sub/images/b.jpg"), 4, SKColors.Blue, SKEncodedImageFormat.Jpeg);
        _folder.WriteText("sub/images/not-an-image.png", "this is text, not a PNG");
    }

    public void Dispose() => _folder.Dispose();

    private string Manifest(params string[] lines) => _folder.WriteText("sub/manifest.jsonl", string.Join('\n', lines));

    [Fact]
    public void RowsResolveImagesAgainstTheManifestFolderAndKeepPrompts()
    {
        var path = Manifest(
            """{"image": "images/a.png", "caption": "red square", "extra": 1}""",
            "",
            """{"image": "images/b.jpg", "caption": "blue square", "prompt": "describe:"}""");

        var manifest = ImageTextManifest.Load(path, skipBadSamples: false);

        Assert.Equal(2, manifest.Samples.Count);
        Assert.Equal(Path.Combine(_folder.Path, "sub", "images", "a.png"), manifest.Samples[0].ImagePath);
        Assert.Equal(("red square", (string?)null, 1), (manifest.Samples[0].Caption, manifest.Samples[0].Prompt, manifest.Samples[0].Line));
        Assert.Equal(("blue square", "describe:", 3), (manifest.Samples[1].Caption, manifest.Samples[1].Prompt, manifest.Samples[1].Line));
        Assert.Empty(manifest.Skipped);
    }

    [Fact]
    public void SeveralManifestsLoadAsOneSetInTheOrderListedEachRowKeepingItsFileAndLine()
    {
        TestImages.WriteSolid(_folder.File("other/images/a.png"), 4, SKColors.Green);
        var first = Manifest("""{"image": "images/a.png", "caption": "red square"}""", """{"image": "images/b.jpg", "caption": "blue square"}""");
        var second = _folder.WriteText("other/manifest.jsonl", """{"image": "images/a.png", "caption": "red square"}""" + "\n");

        var merged = ImageTextManifest.Load([second, first], skipBadSamples: false);

        Assert.Equal([(second, 1), (first, 1), (first, 2)], merged.Samples.Select(s => (s.Manifest, s.Line)));
        Assert.Equal(_folder.File("other/images/a.png"), merged.Samples[0].ImagePath);   // each resolves against its own folder
        Assert.Contains(first, merged.Path);
        Assert.Contains(second, merged.Path);
    }

    [Fact]
    public void ABadRowInAnyListedManifestFailsTheLoadNamingThatFile()
    {
        var good = Manifest("""{"image": "images/a.png", "caption": "red square"}""");
        var bad = _folder.WriteText("other/manifest.jsonl", """{"image": "images/gone.png", "caption": "gone"}""" + "\n");

        var error = Assert.Throws<InvalidDataException>(() => ImageTextManifest.Load([good, bad], skipBadSamples: false));

        Assert.Contains($"{bad}:1", error.Message);
        Assert.Contains("does not exist", error.Message);
    }

    [Theory]
    [InlineData("{\"image\": \"images/a.png\", \"caption\": \"ok\"", "malformed JSON")]
    [InlineData("""["images/a.png", "red"]""", "expected a JSON object")]
    [InlineData("""{"image": "images/a.png"}""", "missing \"caption\"")]
    [InlineData("""{"image": "images/a.png", "caption": 7}""", "\"caption\" must be a non-empty string")]
    [InlineData("""{"image": "images/a.png", "caption": "ok", "category": 3}""", "\"category\" must be a non-empty string")]
    [InlineData("""{"image": "images/missing.png", "caption": "gone"}""", "does not exist")]
    [InlineData("""{"image": "images/not-an-image.png", "caption": "text"}""", "is not a PNG or JPEG")]
    public void BadRowFailsTheLoadNamingFileLineAndProblem(string badLine, string problem)
    {
        var path = Manifest(
            """{"image": "images/a.png", "caption": "red square"}""",
            """{"image": "images/b.jpg", "caption": "blue square"}""",
            badLine);

        var error = Assert.Throws<InvalidDataException>(() => ImageTextManifest.Load(path, skipBadSamples: false));

        Assert.Contains($"{path}:3:", error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Contains("data.skip_bad_samples", error.Message);
    }

    [Fact]
    public void SkipBadSamplesKeepsTheGoodRowsAndCountsEachBadOne()
    {
        var path = Manifest(
            """{"image": "images/a.png", "caption": "red square"}""",
            "{not json",
            """{"image": "images/missing.png", "caption": "gone"}""",
            """{"image": "images/b.jpg", "caption": "blue square"}""",
            """{"image": "images/not-an-image.png", "caption": "text"}""");

        var manifest = ImageTextManifest.Load(path, skipBadSamples: true);

        Assert.Equal([1, 4], manifest.Samples.Select(s => s.Line));
        Assert.Equal([2, 3, 5], manifest.Skipped.Select(s => s.Line));
        Assert.All(manifest.Skipped, bad => Assert.Equal(path, bad.Manifest));
    }

    [Fact]
    public void ManifestWithoutUsableRowsFailsEvenWhenSkipping()
    {
        var path = Manifest("{not json");

        Assert.Throws<InvalidDataException>(() => ImageTextManifest.Load(path, skipBadSamples: true));
    }

    [Fact]
    public void MissingManifestNamesThePathAndTheFetchScript()
    {
        var error = Assert.Throws<FileNotFoundException>(() => ImageTextManifest.Load(_folder.File("nope.jsonl"), false));

        Assert.Contains("nope.jsonl", error.Message);
        Assert.Contains("fetch-emoji.sh", error.Message);
    }
}
