using SkiaSharp;

namespace Forge.Model.Tests.Data;

/// <summary>Small PNG and JPEG files made with SkiaSharp for the decoding tests.</summary>
public static class TestImages
{
    /// <summary>Writes a width x height image whose pixel (x, y) has colour pixel(x, y).</summary>
    public static string Write(string path, int width, int height, Func<int, int, SKColor> pixel, SKEncodedImageFormat format = SKEncodedImageFormat.Png, int quality = 100)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                bitmap.SetPixel(x, y, pixel(x, y));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var data = bitmap.Encode(format, quality);
        using var file = File.Create(path);
        data.SaveTo(file);
        return path;
    }

    public static string WriteSolid(string path, int size, SKColor colour, SKEncodedImageFormat format = SKEncodedImageFormat.Png) =>
        Write(path, size, size, (_, _) => colour, format);

    /// <summary>A PNG whose header is valid but whose pixel data stops halfway: passes the manifest check, fails the decode.</summary>
    public static string WriteTruncatedPng(string path, int size = 32)
    {
        var random = new Random(7);
        Write(path, size, size, (_, _) => new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)));
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        return path;
    }

    /// <summary>The colour of data set row i in the generated test sets: distinct for up to 256 rows.</summary>
    public static SKColor RowColour(int i) => new((byte)(i * 37 % 256), (byte)(255 - i), (byte)(i * 11 % 256));
}
