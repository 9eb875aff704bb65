using System.Buffers;
using SkiaSharp;

namespace Forge.Model.Data;

/// <summary>
/// Decodes a PNG or JPEG with SkiaSharp into a normalised CHW float image:
/// composite onto white (emoji PNGs are mostly transparent, and a black background would make
/// "black heart" and "white heart" the same picture), scale the shorter side to the target size,
/// centre crop, then (x/255 - mean) / std per channel.
/// Thread-safe: it holds only the immutable settings.
/// </summary>
public sealed class ImageTransform
{
    // Linear filtering with mipmaps: exact at scale 1, and without the aliasing of plain
    // bilinear when large photos are scaled down to a few dozen pixels.
    private static readonly SKSamplingOptions Sampling = new(SKFilterMode.Linear, SKMipmapMode.Linear);

    private readonly float[] _scale = new float[3];
    private readonly float[] _shift = new float[3];

    public ImageTransform(int imageSize, IReadOnlyList<double> mean, IReadOnlyList<double> std)
    {
        if (imageSize <= 0) throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "data.image_size must be positive");
        if (mean.Count != 3) throw new ArgumentException($"data.mean must have 3 values (R, G, B), got {mean.Count}", nameof(mean));
        if (std.Count != 3) throw new ArgumentException($"data.std must have 3 values (R, G, B), got {std.Count}", nameof(std));
        for (var c = 0; c < 3; c++)
        {
            if (!(std[c] > 0)) throw new ArgumentException($"data.std[{c}] = {std[c]} must be positive", nameof(std));
            // (x/255 - mean)/std as one multiply-add per pixel.
            _scale[c] = (float)(1.0 / (255.0 * std[c]));
            _shift[c] = (float)(-mean[c] / std[c]);
        }
        ImageSize = imageSize;
    }

    public int ImageSize { get; }

    /// <summary>Floats per decoded image: 3 * size * size.</summary>
    public int PixelCount => 3 * ImageSize * ImageSize;

    /// <summary>
    /// Decodes the file into <paramref name="chw"/> (length <see cref="PixelCount"/>), changed by
    /// <paramref name="augmentation"/> when one is given (training rows; see <see cref="ImageAugmentation"/>).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is missing, not an image, or truncated.</exception>
    public void DecodeInto(string imagePath, Span<float> chw, ImageAugmentationDraw? augmentation = null)
    {
        DecodeGeometry(imagePath, chw, augmentation);
        if (augmentation is { ChangesColour: true }) ChangeColour(chw, augmentation);
    }

    private unsafe void DecodeGeometry(string imagePath, Span<float> chw, ImageAugmentationDraw? augmentation)
    {
        if (chw.Length != PixelCount) throw new ArgumentException($"expected {PixelCount} floats, got {chw.Length}", nameof(chw));
        using var codec = SKCodec.Create(imagePath)
            ?? throw new InvalidDataException(File.Exists(imagePath)
                ? $"image '{imagePath}' is not a PNG or JPEG SkiaSharp can decode"
                : $"image '{imagePath}' does not exist");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        // Decoding into a pooled buffer rather than a fresh SKBitmap: this runs once per sample per epoch.
        var buffer = ArrayPool<byte>.Shared.Rent(info.BytesSize);
        try
        {
            fixed (byte* decoded = buffer)
            {
                var result = codec.GetPixels(info, (IntPtr)decoded);
                if (result != SKCodecResult.Success)
                    throw new InvalidDataException($"image '{imagePath}' could not be decoded ({result})");
                var whole = augmentation is not { ChangesGeometry: true };
                if (whole && info.Width == ImageSize && info.Height == ImageSize)
                {
                    // Already the target size (every emoji): composite by hand, no canvas needed.
                    NormaliseOverWhite(buffer.AsSpan(0, info.BytesSize), chw);
                    return;
                }
                using var source = SKImage.FromPixels(new SKPixmap(info, (IntPtr)decoded));
                using var resized = new SKBitmap(new SKImageInfo(ImageSize, ImageSize, SKColorType.Rgba8888, SKAlphaType.Premul));
                using (var canvas = new SKCanvas(resized))
                using (var paint = new SKPaint())
                {
                    canvas.Clear(SKColors.White);
                    var side = Math.Min(info.Width, info.Height);
                    // Integer offsets keep the crop on pixel boundaries (no half-pixel blur at scale 1).
                    var crop = SKRect.Create((info.Width - side) / 2, (info.Height - side) / 2, side, side);
                    if (augmentation is not null)
                    {
                        var part = augmentation.Crop;
                        crop = SKRect.Create(crop.Left + part.Left * side, crop.Top + part.Top * side, part.Width * side, part.Height * side);
                        if (augmentation.BlurSigma > 0) paint.ImageFilter = SKImageFilter.CreateBlur(augmentation.BlurSigma, augmentation.BlurSigma);
                        if (augmentation.Mirrored) canvas.Scale(-1, 1, ImageSize / 2f, 0);
                    }
                    canvas.DrawImage(source, crop, SKRect.Create(0, 0, ImageSize, ImageSize), Sampling, paint);
                }
                NormaliseOverWhite(resized.GetPixelSpan(), chw);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Brightness, contrast (about the image's mean grey) and saturation (about each pixel's grey) in
    /// [0, 1] pixel values, clamped there, then normalised again.
    /// </summary>
    private void ChangeColour(Span<float> chw, ImageAugmentationDraw draw)
    {
        var plane = ImageSize * ImageSize;
        var rgb = new float[3][];
        for (var c = 0; c < 3; c++)
        {
            rgb[c] = chw.Slice(c * plane, plane).ToArray();
            for (var i = 0; i < plane; i++) rgb[c][i] = (rgb[c][i] - _shift[c]) / (_scale[c] * 255f);
        }
        double meanGrey = 0;
        for (var i = 0; i < plane; i++) meanGrey += Grey(rgb, i);
        meanGrey /= plane;
        for (var i = 0; i < plane; i++)
        {
            var grey = Grey(rgb, i) * draw.Brightness;
            for (var c = 0; c < 3; c++)
            {
                var value = rgb[c][i] * draw.Brightness;
                value = grey + (value - grey) * draw.Saturation;
                value = meanGrey * draw.Brightness + (value - meanGrey * draw.Brightness) * draw.Contrast;
                chw[c * plane + i] = (float)Math.Clamp(value, 0, 1) * 255f * _scale[c] + _shift[c];
            }
        }
    }

    // ITU-R BT.601 luma, the weights torchvision's colour jitter uses.
    private static double Grey(float[][] rgb, int i) => 0.299 * rgb[0][i] + 0.587 * rgb[1][i] + 0.114 * rgb[2][i];

    /// <summary>
    /// Premultiplied RGBA over an opaque white background is c + (255 - alpha) per channel, exactly;
    /// then (x/255 - mean)/std, written as planes (CHW).
    /// </summary>
    private void NormaliseOverWhite(ReadOnlySpan<byte> premultipliedRgba, Span<float> chw)
    {
        var plane = ImageSize * ImageSize;
        var red = chw[..plane];
        var green = chw.Slice(plane, plane);
        var blue = chw.Slice(2 * plane, plane);
        for (var i = 0; i < plane; i++)
        {
            var pixel = premultipliedRgba.Slice(4 * i, 4);
            var background = 255 - pixel[3];
            red[i] = (pixel[0] + background) * _scale[0] + _shift[0];
            green[i] = (pixel[1] + background) * _scale[1] + _shift[1];
            blue[i] = (pixel[2] + background) * _scale[2] + _shift[2];
        }
    }
}
