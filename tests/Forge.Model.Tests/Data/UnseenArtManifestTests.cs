using Forge.Model.Config;
using Forge.Model.Data;
using Forge.Model.Evaluation;
using SkiaSharp;

namespace Forge.Model.Tests.Data;

/// <summary>
/// The unseen-art split laid out as the emoji data is: data/emoji-google/{train,eval}.jsonl and
/// data/emoji-twitter/{train,eval}.jsonl with the same names split the same way, each vendor with its own images.
/// </summary>
public sealed class UnseenArtManifestTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();
    private readonly string _googleTrain;
    private readonly string _googleEval;
    private readonly string _twitterTrain;

    public UnseenArtManifestTests()
    {
        foreach (var vendor in new[] { "google", "twitter" })
        foreach (var code in new[] { "1f600", "1f44d", "1f44d-1f3ff", "2764", "1f94b" })
            TestImages.WriteSolid(_folder.File($"emoji-{vendor}/images/{code}.png"), 4, vendor == "google" ? SKColors.Gold : SKColors.Orange);
        _googleTrain = Manifest("emoji-google/train.jsonl", ("1f600", "grinning face"), ("1f44d", "thumbs up sign"),
            ("1f44d-1f3ff", "thumbs up sign, dark skin tone"), ("2764", "heavy black heart"));
        _googleEval = Manifest("emoji-google/eval.jsonl", ("1f94b", "martial arts uniform"));
        // Twitter lacks one training emoji; its held-out row and a row pointing at google's own file must not count.
        _twitterTrain = Manifest("emoji-twitter/train.jsonl", ("1f44d-1f3ff", "thumbs up sign, dark skin tone"),
            ("1f600", "grinning face"), ("1f94b", "martial arts uniform"), ("../../emoji-google/images/2764", "heavy black heart"),
            ("1f44d", "thumbs up sign"));
    }

    public void Dispose() => _folder.Dispose();

    private string Manifest(string name, params (string Code, string Caption)[] rows) => _folder.WriteText(name,
        string.Join('\n', rows.Select(r => $$"""{"image": "images/{{r.Code}}.png", "caption": "{{r.Caption}}"}""")) + "\n");

    [Fact]
    public void TheUnseenArtSetIsTheOtherVendorsArtOfTrainingNamesOnly()
    {
        var art = UnseenArtManifest.Select(ImageTextManifest.Load(_twitterTrain, false), ImageTextManifest.Load(_googleTrain, false));

        Assert.Equal(["thumbs up sign, dark skin tone", "grinning face", "thumbs up sign"], art.Samples.Select(s => s.Caption));
        Assert.All(art.Samples, s => Assert.StartsWith(_folder.File("emoji-twitter/images/"), s.ImagePath));
        Assert.Equal([1, 2, 5], art.Samples.Select(s => s.Line));   // rows keep their lines, so errors still name them
        Assert.Equal(_twitterTrain, art.Path);
    }

    [Fact]
    public void WithSeveralTrainingVendorsANameAnyOfThemTeachesIsScoredAndNoImageOfAnyIs()
    {
        TestImages.WriteSolid(_folder.File("emoji-apple/images/1f94c.png"), 4, SKColors.Silver);
        var appleTrain = Manifest("emoji-apple/train.jsonl", ("1f94c", "curling stone"), ("../../emoji-twitter/images/1f600", "grinning face"));
        TestImages.WriteSolid(_folder.File("emoji-twitter/images/1f94c.png"), 4, SKColors.Orange);
        var twitter = _folder.WriteText("emoji-twitter/more.jsonl", """{"image": "images/1f94c.png", "caption": "curling stone"}""" + "\n" +
            """{"image": "images/1f600.png", "caption": "grinning face"}""" + "\n");

        var art = UnseenArtManifest.Load(new DataConfig { Manifests = [_googleTrain, appleTrain], UnseenArtManifest = twitter });

        // "curling stone" only apple teaches; twitter's grinning face is apple's training image, so it is not unseen.
        Assert.Equal(["curling stone"], art.Samples.Select(s => s.Caption));
    }

    [Fact]
    public void AManifestWithNoTrainingNameIsAnErrorNamingIt()
    {
        var error = Assert.Throws<InvalidDataException>(() =>
            UnseenArtManifest.Select(ImageTextManifest.Load(_googleEval, false), ImageTextManifest.Load(_googleTrain, false)));

        Assert.Contains(_googleEval, error.Message);
        Assert.Contains(_googleTrain, error.Message);
        Assert.Contains("unseen-art", error.Message);
    }

    [Fact]
    public void AJobOpensBothHeldOutTestsFromItsDataSection()
    {
        var config = new JobConfig
        {
            Data = new DataConfig { Manifests = [_googleTrain], EvalManifest = _googleEval, UnseenArtManifest = _twitterTrain, ImageSize = 4 },
        };

        var art = HeldOutTests.UnseenArt(config);
        var names = HeldOutTests.UnseenNames(config);

        Assert.Equal(3, art!.HeldOut.Count);
        Assert.Equal(["martial arts uniform"], Enumerable.Range(0, names!.HeldOut.Count).Select(r => names.HeldOut[r].Caption));
        Assert.Null(HeldOutTests.UnseenArt(config with { Data = config.Data with { UnseenArtManifest = "" } }));
    }
}
