using System.Globalization;
using Forge.Model.Evaluation;
using SkiaSharp;

namespace Forge.Host.Output;

/// <summary>
/// captions.png: the shown held-out images of each test in a grid, one section per test (unseen art
/// first), each cell the image with its reference caption and the generated one (green when exact,
/// red otherwise), so a reader sees at a glance whether the model reads the picture or only spells.
/// Images are composited onto white, as training sees them.
/// </summary>
internal static class CaptionSheet
{
    public const int Columns = 6;
    public const int Margin = 8;
    public const int CellWidth = 184;
    public const int ImageSide = 64;
    public const int HeaderHeight = 24;
    private const int LineHeight = 14;
    public const int CellHeight = ImageSide + 2 * LineHeight + 12;

    private static readonly SKColor Background = SKColors.White;
    private static readonly SKColor Right = new(0x1b, 0x7f, 0x3b);
    private static readonly SKColor Wrong = new(0xc0, 0x39, 0x2b);
    private static readonly SKColor Reference = new(0x55, 0x55, 0x55);

    /// <summary>Pixel size of a sheet whose sections hold the given numbers of cells.</summary>
    public static (int Width, int Height) SizeOf(IReadOnlyList<int> cellsPerSection)
    {
        var columns = Math.Clamp(cellsPerSection.DefaultIfEmpty(0).Max(), 1, Columns);
        var height = Margin + cellsPerSection.Sum(n => HeaderHeight + RowsOf(n) * CellHeight) + Margin;
        return (2 * Margin + columns * CellWidth, height);
    }

    /// <summary>Where cell <paramref name="cell"/> of section <paramref name="section"/> draws its image.</summary>
    public static SKRectI ImageRect(IReadOnlyList<int> cellsPerSection, int section, int cell)
    {
        var top = Margin + cellsPerSection.Take(section).Sum(n => HeaderHeight + RowsOf(n) * CellHeight) + HeaderHeight;
        var x = Margin + cell % Columns * CellWidth + (CellWidth - ImageSide) / 2;
        var y = top + cell / Columns * CellHeight + 4;
        return new SKRectI(x, y, x + ImageSide, y + ImageSide);
    }

    public static void Write(HeldOutReport report, string path)
    {
        var sections = report.Tests.Where(t => t.ShownCount > 0).ToList();
        if (sections.Count == 0) throw new InvalidOperationException("no captions to draw (train.generate_samples = 0)");
        var cells = sections.Select(t => t.ShownCount).ToArray();
        var (width, height) = SizeOf(cells);

        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using (var canvas = new SKCanvas(bitmap))
        using (var font = new SKFont(SKTypeface.Default, 11))
        using (var bold = new SKFont(SKTypeface.FromFamilyName(null, SKFontStyle.Bold) ?? SKTypeface.Default, 13))
        using (var paint = new SKPaint { IsAntialias = true })
        {
            canvas.Clear(Background);
            for (var s = 0; s < sections.Count; s++)
            {
                var test = sections[s];
                var first = ImageRect(cells, s, 0);
                paint.Color = SKColors.Black;
                canvas.DrawText(Title(test, report.Step), Margin, first.Top - 4 - HeaderHeight + 17, SKTextAlign.Left, bold, paint);
                var shown = test.Shown.ToArray();
                for (var c = 0; c < shown.Length; c++)
                {
                    var rect = ImageRect(cells, s, c);
                    DrawImage(canvas, shown[c].ImagePath, rect, paint, font);
                    var left = rect.Left - (CellWidth - ImageSide) / 2 + 4;
                    var textWidth = CellWidth - 8;
                    paint.Color = Reference;
                    canvas.DrawText(Fit(shown[c].Reference, font, textWidth), left, rect.Bottom + LineHeight, SKTextAlign.Left, font, paint);
                    paint.Color = CaptionScore.ExactMatch(shown[c].Reference, shown[c].Generated) ? Right : Wrong;
                    canvas.DrawText(Fit(shown[c].Generated.Length == 0 ? "(empty)" : shown[c].Generated, font, textWidth),
                        left, rect.Bottom + 2 * LineHeight, SKTextAlign.Left, font, paint);
                }
            }
        }
        Save(bitmap, path);
    }

    /// <summary>
    /// `forge plot`: puts the sheet at <paramref name="sheetPath"/> to the right of the curves in
    /// <paramref name="plotPath"/>, top-aligned on white, rewriting <paramref name="plotPath"/>.
    /// </summary>
    public static void PlaceBeside(string plotPath, string sheetPath)
    {
        using var plot = SKBitmap.Decode(plotPath) ?? throw new InvalidDataException($"{plotPath}: not a PNG SkiaSharp can decode");
        using var sheet = SKBitmap.Decode(sheetPath) ?? throw new InvalidDataException($"{sheetPath}: not a PNG SkiaSharp can decode");
        using var both = new SKBitmap(plot.Width + sheet.Width, Math.Max(plot.Height, sheet.Height), SKColorType.Rgba8888, SKAlphaType.Premul);
        using (var canvas = new SKCanvas(both))
        {
            canvas.Clear(Background);
            canvas.DrawBitmap(plot, 0, 0);
            canvas.DrawBitmap(sheet, plot.Width, 0);
        }
        Save(both, plotPath);
    }

    private static int RowsOf(int cells) => (cells + Columns - 1) / Columns;

    private static string Title(HeldOutTestReport test, long step) => test.Scores is { } s
        ? string.Create(CultureInfo.InvariantCulture,
            $"{test.Name}: exact {s.ExactMatch * 100:F0}%, similarity {s.Similarity:F2} over {s.Samples} images (step {step})")
        : $"{test.Name} (step {step})";

    private static void DrawImage(SKCanvas canvas, string path, SKRectI rect, SKPaint paint, SKFont font)
    {
        using var image = File.Exists(path) ? SKImage.FromEncodedData(path) : null;
        if (image is null)
        {
            paint.Color = SKColors.LightGray;
            canvas.DrawRect(rect, paint);
            paint.Color = Reference;
            canvas.DrawText("missing", rect.MidX, rect.MidY, SKTextAlign.Center, font, paint);
            return;
        }
        canvas.DrawImage(image, rect, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
    }

    /// <summary>The text, cut with an ellipsis where it would run into the next cell.</summary>
    private static string Fit(string text, SKFont font, float width)
    {
        if (font.MeasureText(text) <= width) return text;
        var length = text.Length;
        while (length > 0 && font.MeasureText(text[..length] + "…") > width) length--;
        return text[..length] + "…";
    }

    private static void Save(SKBitmap bitmap, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        png.SaveTo(file);
    }
}
