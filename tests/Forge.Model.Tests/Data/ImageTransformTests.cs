using Forge.Model.Data;
using SkiaSharp;

namespace Forge.Model.Tests.Data;

public sealed class ImageTransformTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static float[] Decode(ImageTransform transform, string path)
    {
        var chw = new float[transform.PixelCount];
        transform.DecodeInto(path, chw);
        return chw;
    }

    private static (float R, float G, float B) PixelAt(float[] chw, int size, int x, int y) =>
        (chw[y * size + x], chw[size * size + y * size + x], chw[2 * size * size + y * size + x]);

    [Fact]
    public void OpaquePngAtTargetSizeDecodesToExactlyNormalisedPixels()
    {
        static SKColor Colour(int x, int y) => new((byte)(x * 30), (byte)(y * 30), (byte)(200 - x * y));
        var path = TestImages.Write(_folder.File("grid.png"), 8, 8, Colour);
        double[] mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
        var transform = new ImageTransform(8, mean, std);

        var chw = Decode(transform, path);

        for (var y = 0; y < 8; y++)
            for (var x = 0; x < 8; x++)
            {
                var expected = Colour(x, y);
                var (r, g, b) = PixelAt(chw, 8, x, y);
                Assert.Equal((expected.Red / 255.0 - mean[0]) / std[0], r, 1e-5);
                Assert.Equal((expected.Green / 255.0 - mean[1]) / std[1], g, 1e-5);
                Assert.Equal((expected.Blue / 255.0 - mean[2]) / std[2], b, 1e-5);
            }
    }

    [Theory]
    [InlineData(4)] // target size: composited by hand
    [InlineData(2)] // scaled down: composited on a canvas
    public void TransparencyIsCompositedOntoWhite(int targetSize)
    {
        var path = TestImages.Write(_folder.File("alpha.png"), 4, 4,
            (x, _) => x < 2 ? SKColors.Transparent : new SKColor(255, 0, 0, 128));
        var transform = new ImageTransform(targetSize, [0, 0, 0], [1, 1, 1]);

        var chw = Decode(transform, path);

        var clear = PixelAt(chw, targetSize, 0, 0);
        Assert.Equal((1f, 1f, 1f), clear);
        var halfRed = PixelAt(chw, targetSize, targetSize - 1, targetSize - 1);
        Assert.Equal(1.0, halfRed.R, 0.01);
        Assert.Equal(127 / 255.0, halfRed.G, 0.01); // 255 * (1 - 128/255) of the white behind
        Assert.Equal(127 / 255.0, halfRed.B, 0.01);
    }

    [Fact]
    public void WideImageIsScaledToTheTargetHeightAndCentreCropped()
    {
        // 32 x 16: red and blue margins of 8 columns around a 16-column green centre.
        var path = TestImages.Write(_folder.File("wide.png"), 32, 16,
            (x, _) => x < 8 ? SKColors.Red : x >= 24 ? SKColors.Blue : SKColors.Lime);
        var transform = new ImageTransform(8, [0, 0, 0], [1, 1, 1]);

        var chw = Decode(transform, path);

        for (var y = 0; y < 8; y++)
            for (var x = 0; x < 8; x++)
                Assert.Equal((0f, 1f, 0f), PixelAt(chw, 8, x, y));
    }

    [Fact]
    public void DownscalingAveragesFineDetailInsteadOfAliasing()
    {
        // One-pixel red/blue checkerboard: any 2x2 area averages to purple; point sampling would keep red or blue.
        var path = TestImages.Write(_folder.File("checker.png"), 64, 64,
            (x, y) => (x + y) % 2 == 0 ? SKColors.Red : SKColors.Blue);
        var transform = new ImageTransform(16, [0, 0, 0], [1, 1, 1]);

        var chw = Decode(transform, path);

        for (var y = 0; y < 16; y++)
            for (var x = 0; x < 16; x++)
            {
                var (r, _, b) = PixelAt(chw, 16, x, y);
                Assert.InRange(r, 0.35f, 0.65f);
                Assert.InRange(b, 0.35f, 0.65f);
            }
    }

    [Fact]
    public void JpegDecodesToItsColourWithinCompressionError()
    {
        var colour = new SKColor(200, 120, 40);
        var path = TestImages.WriteSolid(_folder.File("solid.jpg"), 16, colour, SKEncodedImageFormat.Jpeg);
        var transform = new ImageTransform(16, [0, 0, 0], [1, 1, 1]);

        var chw = Decode(transform, path);

        var (r, g, b) = PixelAt(chw, 16, 7, 7);
        Assert.Equal(colour.Red / 255.0, r, 0.02);
        Assert.Equal(colour.Green / 255.0, g, 0.02);
        Assert.Equal(colour.Blue / 255.0, b, 0.02);
    }

    [Fact]
    public void TruncatedImageFailsNamingTheFile()
    {
        var path = TestImages.WriteTruncatedPng(_folder.File("cut.png"));
        var transform = new ImageTransform(8, [0, 0, 0], [1, 1, 1]);

        var error = Assert.Throws<InvalidDataException>(() => Decode(transform, path));

        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void MeanAndStdMustHaveThreePositiveValues()
    {
        Assert.Contains("data.mean", Assert.Throws<ArgumentException>(() => new ImageTransform(8, [0.5], [1, 1, 1])).Message);
        Assert.Contains("data.std[1]", Assert.Throws<ArgumentException>(() => new ImageTransform(8, [0, 0, 0], [1, 0, 1])).Message);
    }
}
