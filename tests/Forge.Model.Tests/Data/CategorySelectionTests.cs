using Forge.Model.Config;
using Forge.Model.Data;
using Forge.Model.Evaluation;
using SkiaSharp;

namespace Forge.Model.Tests.Data;

/// <summary>
/// data.categories over a layout like the emoji data's: google's training and held-out rows and twitter's
/// art of the training names, each row with the manifest's "category".
/// </summary>
public sealed class CategorySelectionTests : IDisposable
{
    private const string Animals = "Animals & Nature";
    private const string Food = "Food & Drink";
    private const string People = "People & Body";

    private readonly TemporaryFolder _folder = new();
    private readonly string _googleTrain;
    private readonly string _googleEval;
    private readonly string _twitterTrain;

    public CategorySelectionTests()
    {
        foreach (var vendor in new[] { "google", "twitter" })
        foreach (var code in new[] { "1f436", "1f34e", "1f44d", "1f44d-1f3ff", "1f431", "1f9c0" })
            TestImages.WriteSolid(_folder.File($"emoji-{vendor}/images/{code}.png"), 4, vendor == "google" ? SKColors.Gold : SKColors.Orange);
        _googleTrain = Manifest("emoji-google/train.jsonl", ("1f436", "dog face", Animals), ("1f34e", "red apple", Food),
            ("1f44d", "thumbs up sign", People), ("1f44d-1f3ff", "thumbs up sign, dark skin tone", People));
        _googleEval = Manifest("emoji-google/eval.jsonl", ("1f431", "cat face", Animals), ("1f9c0", "cheese wedge", Food));
        _twitterTrain = Manifest("emoji-twitter/train.jsonl", ("1f44d", "thumbs up sign", People), ("1f436", "dog face", Animals),
            ("1f34e", "red apple", Food), ("1f431", "cat face", Animals));
    }

    public void Dispose() => _folder.Dispose();

    private string Manifest(string name, params (string Code, string Caption, string Category)[] rows) => _folder.WriteText(name,
        string.Join('\n', rows.Select(r => $$"""{"image": "images/{{r.Code}}.png", "caption": "{{r.Caption}}", "category": "{{r.Category}}"}""")) + "\n");

    private JobConfig Job(params string[] categories) => new()
    {
        Data = new DataConfig
        {
            Manifests = [_googleTrain], EvalManifest = _googleEval, UnseenArtManifest = _twitterTrain, ImageSize = 4, Categories = categories,
        },
    };

    private static IEnumerable<string> Captions(ImageTextDataset set) => Enumerable.Range(0, set.Count).Select(r => set[r].Caption);

    [Fact]
    public void TrainingAndBothHeldOutTestsKeepOnlyTheListedCategories()
    {
        var config = Job(Animals);

        Assert.Equal(["dog face"], Captions(ImageTextDataset.Training(config)));
        Assert.Equal(["dog face"], Captions(HeldOutTests.UnseenArt(config)!.HeldOut));
        Assert.Equal(["cat face"], Captions(HeldOutTests.UnseenNames(config)!.HeldOut));
    }

    [Fact]
    public void AnEmptyListKeepsEveryRow()
    {
        var config = Job();

        Assert.Equal(4, ImageTextDataset.Training(config).Count);
        Assert.Equal(["thumbs up sign", "dog face", "red apple"], Captions(HeldOutTests.UnseenArt(config)!.HeldOut));
        Assert.Equal(2, HeldOutTests.UnseenNames(config)!.HeldOut.Count);
    }

    [Fact]
    public void SeveralCategoriesKeepTheRowsOfEachInManifestOrder()
    {
        Assert.Equal(["dog face", "red apple"], Captions(ImageTextDataset.Training(Job(Food, Animals))));
    }

    [Fact]
    public void ACategoryNoTrainingRowHasIsAnErrorNamingItTheManifestAndTheCategoriesThere()
    {
        var error = Assert.Throws<InvalidDataException>(() => ImageTextDataset.Training(Job(Animals, "Animals and Nature")));

        Assert.Contains("data.categories", error.Message);
        Assert.Contains("\"Animals and Nature\"", error.Message);
        Assert.Contains(_googleTrain, error.Message);
        Assert.Contains("\"Animals & Nature\", \"Food & Drink\", \"People & Body\"", error.Message);
    }

    [Fact]
    public void AHeldOutSetLeftEmptyIsAnErrorNamingItAndTheCategoriesItHas()
    {
        var error = Assert.Throws<InvalidDataException>(() => HeldOutTests.UnseenNames(Job(People)));

        Assert.Contains(_googleEval, error.Message);
        Assert.Contains("data.categories (\"People & Body\")", error.Message);
        Assert.Contains("its categories are \"Animals & Nature\", \"Food & Drink\"", error.Message);
    }

    [Fact]
    public void AHeldOutSetMayLackAListedCategory()
    {
        var names = HeldOutTests.UnseenNames(Job(Food, People))!;

        Assert.Equal(["cheese wedge"], Captions(names.HeldOut));
    }

    [Fact]
    public void ARowWithoutACategoryIsAnErrorNamingItsFileAndLineOnlyWhenCategoriesSelect()
    {
        var eval = _folder.WriteText("emoji-google/eval-plain.jsonl",
            """{"image": "images/1f431.png", "caption": "cat face", "category": "Animals & Nature"}""" + "\n" +
            """{"image": "images/1f9c0.png", "caption": "cheese wedge"}""" + "\n");
        var config = Job(Animals) with { Data = Job(Animals).Data with { EvalManifest = eval } };

        var error = Assert.Throws<InvalidDataException>(() => HeldOutTests.UnseenNames(config));

        Assert.Contains($"{eval}:2", error.Message);
        Assert.Contains("\"category\"", error.Message);
        Assert.Contains("data.categories", error.Message);
        Assert.Equal(2, HeldOutTests.UnseenNames(config with { Data = config.Data with { Categories = [] } })!.HeldOut.Count);
    }
}
