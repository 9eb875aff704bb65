using Forge.Model.Config;
using Forge.Model.Data;

namespace Forge.Model.Tests.Data;

public sealed class BatchSourcesTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    private JobConfig Config(double crop) => new()
    {
        Data = new DataConfig
        {
            Manifests = [TestDataSets.WriteManifest(_folder, "train.jsonl", [("moon", null), ("cat", null), ("sun", null)], imageSize: 4)],
            EvalManifest = "",
            ImageSize = 4,
            AugmentCrop = crop,
        },
        Vlm = new VlmConfig { MaxTextLen = 8 },
    };

    [Fact]
    public void TheJobsTrainingSetCarriesItsAugmentationAndOneSourceServesEachGlobalBatchSize()
    {
        using var augmented = BatchSources.Open(Config(crop: 0.7));
        using var plain = BatchSources.Open(Config(crop: 1.0));

        Assert.NotNull(augmented.Dataset.Augmentation);
        Assert.Null(plain.Dataset.Augmentation);   // crop 1, no blur, no colour: the identity
        Assert.Same(augmented.For(2), augmented.For(2));
        Assert.NotSame(augmented.For(2), augmented.For(3));
        Assert.Equal(3, augmented.For(3).GlobalBatchSize);
        Assert.Equal(new DeterministicSampler(3, new DataConfig().Seed, 2).CursorAfter(5), augmented.CursorAfter(5, 2));
    }

    [Fact]
    public void TheTrainingSetOfSeveralManifestsHoldsTheRowsOfEachAndTheSamplerSpansThemAll()
    {
        var config = Config(crop: 1.0);
        var apple = TestDataSets.WriteManifest(_folder, "apple.jsonl", [("moon", null), ("dog", null)], imageSize: 4);
        using var sources = BatchSources.Open(config with { Data = config.Data with { Manifests = [.. config.Data.Manifests, apple] } });

        Assert.Equal(["moon", "cat", "sun", "moon", "dog"], Enumerable.Range(0, sources.Dataset.Count).Select(r => sources.Dataset[r].Caption));
        Assert.Equal(new DeterministicSampler(5, new DataConfig().Seed, 2).CursorAfter(4), sources.CursorAfter(4, 2));
    }

    public void Dispose() => _folder.Dispose();
}
