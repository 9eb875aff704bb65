using Forge.Model.Config;
using Forge.Model.Data;
using Forge.Model.Evaluation;
using SkiaSharp;

namespace Forge.Model.Tests.Data;

/// <summary>
/// Training-image augmentation: a function of the seed and the sample's stream position, within the
/// configured bounds, doing what each part says on images whose right answer is known, and never
/// applied to held-out sets.
/// </summary>
public sealed class ImageAugmentationTests : IDisposable
{
    private const int Size = 16;
    private static readonly ImageTransform Plain = new(Size, [0, 0, 0], [1, 1, 1]);   // floats are pixel / 255
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static float[] Decode(string path, ImageAugmentationDraw? draw)
    {
        var chw = new float[Plain.PixelCount];
        Plain.DecodeInto(path, chw, draw);
        return chw;
    }

    private static ImageAugmentationDraw Only(SKRect? crop = null, float blur = 0, double brightness = 1, double contrast = 1, double saturation = 1,
        bool mirrored = false) =>
        new(crop ?? SKRect.Create(0, 0, 1, 1), blur, brightness, contrast, saturation, mirrored);

    [Fact]
    public void DrawsDependOnlyOnSeedAndSampleIndexAndStayWithinTheirBounds()
    {
        var augmentation = new ImageAugmentation(CropScale: 0.75, Blur: 1.5, Colour: 0.25, Flip: 0.5, Seed: 1234);

        Assert.Equal(augmentation.Draw(17), new ImageAugmentation(0.75, 1.5, 0.25, 0.5, 1234).Draw(17));
        Assert.NotEqual(augmentation.Draw(17), augmentation.Draw(18));
        Assert.NotEqual(augmentation.Draw(17), (augmentation with { Seed = 1235 }).Draw(17));
        foreach (var draw in Enumerable.Range(0, 500).Select(i => augmentation.Draw(i)))
        {
            Assert.Equal(draw.Crop.Width, draw.Crop.Height, 1e-5f);   // square, up to the rounding of Right - Left
            Assert.InRange(draw.Crop.Width, 0.75f - 1e-6f, 1f + 1e-6f);
            Assert.InRange(draw.Crop.Left, 0f, 1f - draw.Crop.Width + 1e-6f);
            Assert.InRange(draw.Crop.Top, 0f, 1f - draw.Crop.Height + 1e-6f);
            Assert.InRange(draw.BlurSigma, 0f, 1.5f);
            Assert.All([draw.Brightness, draw.Contrast, draw.Saturation], f => Assert.InRange(f, 0.75, 1.25));
        }
        // Flip 0.5 mirrors about half the samples (500 draws: 5 standard deviations is ±56).
        Assert.InRange(Enumerable.Range(0, 500).Count(i => augmentation.Draw(i).Mirrored), 194, 306);
    }

    [Fact]
    public void FlipOneMirrorsEveryImageAndFlipZeroNone()
    {
        // Red left of the middle, blue right of it, and a green top-left corner: asymmetric both ways.
        var path = TestImages.Write(_folder.File("asymmetric.png"), Size, Size,
            (x, y) => x < 3 && y < 3 ? SKColors.Lime : x < Size / 2 ? SKColors.Red : SKColors.Blue);
        var plain = Decode(path, null);
        var always = new ImageAugmentation(CropScale: 1, Blur: 0, Colour: 0, Flip: 1, Seed: 7);
        var never = always with { Flip = 0 };

        Assert.All(Enumerable.Range(0, 50), i => Assert.True(always.Draw(i).Mirrored));
        Assert.All(Enumerable.Range(0, 50), i => Assert.False(never.Draw(i).Mirrored));
        Assert.True(never.IsIdentity);
        Assert.False(always.IsIdentity);

        var mirrored = Decode(path, always.Draw(3));
        Assert.Equal(plain, Decode(path, never.Draw(3)));
        for (var c = 0; c < 3; c++)
            for (var y = 0; y < Size; y++)
                for (var x = 0; x < Size; x++)
                    Assert.Equal(plain[(c * Size + y) * Size + Size - 1 - x], mirrored[(c * Size + y) * Size + x], 5);
    }

    [Fact]
    public void ACropShowsOnlyItsPartOfTheImage()
    {
        // Left half red, right half blue: the top-left quarter is all red.
        var path = TestImages.Write(_folder.File("halves.png"), Size, Size, (x, _) => x < Size / 2 ? SKColors.Red : SKColors.Blue);

        var chw = Decode(path, Only(crop: SKRect.Create(0, 0, 0.5f, 0.5f)));

        var plane = Size * Size;
        // Away from the last column, where linear sampling reaches into the blue half.
        for (var y = 0; y < Size; y++)
            for (var x = 0; x < Size - 2; x++)
                Assert.Equal((1f, 0f, 0f), (chw[y * Size + x], chw[plane + y * Size + x], chw[2 * plane + y * Size + x]));
        Assert.Contains(Decode(path, null).Skip(2 * plane), b => b == 1f);   // uncropped, the blue half is there
    }

    [Fact]
    public void BrightnessScalesContrastSpreadsAndSaturationOfGreyChangesNothing()
    {
        var grey = TestImages.WriteSolid(_folder.File("grey.png"), Size, new SKColor(100, 100, 100));
        var stripes = TestImages.Write(_folder.File("stripes.png"), Size, Size, (x, _) => x % 2 == 0 ? new SKColor(60, 60, 60) : new SKColor(140, 140, 140));

        Assert.All(Decode(grey, Only(brightness: 0.5)), v => Assert.Equal(50 / 255.0, v, 5));
        Assert.All(Decode(grey, Only(saturation: 0.2)), v => Assert.Equal(100 / 255.0, v, 5));
        // Contrast 1.5 about the mean grey 100: 60 -> 40, 140 -> 160.
        var spread = Decode(stripes, Only(contrast: 1.5));
        Assert.Equal(40 / 255.0, spread[0], 5);
        Assert.Equal(160 / 255.0, spread[1], 5);
    }

    [Fact]
    public void BlurSoftensAnEdge()
    {
        var path = TestImages.Write(_folder.File("edge.png"), Size, Size, (x, _) => x < Size / 2 ? SKColors.Black : SKColors.White);

        var sharp = Decode(path, null);
        var blurred = Decode(path, Only(blur: 1.5f));

        var middle = Size / 2 * Size;   // a row away from the top and bottom borders
        Assert.Equal((0f, 1f), (sharp[middle + Size / 2 - 1], sharp[middle + Size / 2]));
        Assert.InRange(blurred[middle + Size / 2 - 1], 0.05f, 0.95f);
        Assert.InRange(blurred[middle + Size / 2], 0.05f, 0.95f);
        Assert.InRange(blurred[middle + 4], 0f, 0.05f);   // 2 sigma and more from the edge and the border: still black
    }

    [Fact]
    public void OnlyTheTrainingSourceIsAugmentedAndAnIdentitySettingChangesNothing()
    {
        var train = TestDataSets.WriteManifest(_folder, "train.jsonl", [("red heart", null), ("blue car", null)], imageSize: Size);
        var data = new DataConfig { Manifests = [train], EvalManifest = train, ImageSize = Size, AugmentCrop = 0.5, AugmentColour = 0.5 };
        var config = new JobConfig { Data = data, Vlm = new VlmConfig { MaxTextLen = 16 } };

        using var source = PrefetchingBatchSource.Open(config, globalBatchSize: 2);
        Assert.NotNull(source.Dataset.Augmentation);
        Assert.Null(HeldOutTests.UnseenNames(config)!.HeldOut.Augmentation);
        Assert.Null(ImageTextDataset.Open(train, data with { AugmentCrop = 1, AugmentColour = 0 }, 16, training: true).Augmentation);

        // A training row filled at a stream position differs from its plain decode; the same position gives the same pixels.
        var plain = new float[source.Dataset.Transform.PixelCount];
        var first = new float[plain.Length];
        var again = new float[plain.Length];
        var ids = new long[16];
        var labels = new long[16];
        source.Dataset.Fill(0, plain, ids, labels);
        source.Dataset.Fill(0, first, ids, labels, sampleIndex: 5);
        source.Dataset.Fill(0, again, ids, labels, sampleIndex: 5);
        Assert.NotEqual(plain, first);
        Assert.Equal(first, again);
    }
}
