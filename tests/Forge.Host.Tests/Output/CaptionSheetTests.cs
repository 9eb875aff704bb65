using Forge.Host.Output;
using Forge.Model.Evaluation;
using Forge.Model.Tests.Data;
using SkiaSharp;

namespace Forge.Host.Tests.Output;

/// <summary>
/// captions.png decoded back: its size follows from the cell counts, and each cell shows its own image
/// (every source image is one solid colour, so a cell's image centre has exactly that colour).
/// </summary>
public sealed class CaptionSheetTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private HeldOutTestReport Test(string name, int shown, int offset)
    {
        var captions = Enumerable.Range(0, shown + 2).Select(i =>
        {
            var image = TestImages.WriteSolid(_folder.File($"{name}/{i}.png"), 16, TestImages.RowColour(offset + i));
            return new GeneratedCaption(image, $"reference {i}", i % 2 == 0 ? $"reference {i}" : "a much longer generated caption than the cell has room for");
        }).ToArray();
        return new HeldOutTestReport(name, $"{name}.jsonl", 0.5, CaptionScores.Of(captions), captions, shown);
    }

    [Fact]
    public void TheSheetHasOneCellPerShownCaptionInASectionPerTest()
    {
        var report = new HeldOutReport(900, [Test(HeldOutTestReport.UnseenArt, 7, 0), Test(HeldOutTestReport.UnseenNames, 2, 100)]);
        var path = _folder.File("captions.png");

        CaptionSheet.Write(report, path);

        using var sheet = SKBitmap.Decode(path);
        Assert.NotNull(sheet);
        // Six columns; unseen art takes two rows (7 cells), unseen names one, each section under its title.
        Assert.Equal(2 * CaptionSheet.Margin + 6 * CaptionSheet.CellWidth, sheet.Width);
        Assert.Equal(2 * CaptionSheet.Margin + 2 * CaptionSheet.HeaderHeight + 3 * CaptionSheet.CellHeight, sheet.Height);
        int[] cells = [7, 2];
        for (var section = 0; section < 2; section++)
        {
            var test = report.Tests[section];
            for (var cell = 0; cell < cells[section]; cell++)
            {
                var rect = CaptionSheet.ImageRect(cells, section, cell);
                Assert.Equal(TestImages.RowColour((section == 0 ? 0 : 100) + cell), sheet.GetPixel(rect.MidX, rect.MidY));
            }
            // The captioned but not shown rows have no cell: the next cell's place is blank.
            var next = CaptionSheet.ImageRect(cells, section, cells[section]);
            Assert.Equal(SKColors.White, sheet.GetPixel(next.MidX, next.MidY));
        }
    }

    [Fact]
    public void ASheetWithNothingShownIsAnError()
    {
        var report = new HeldOutReport(900, [Test(HeldOutTestReport.UnseenArt, 0, 0)]);

        Assert.Throws<InvalidOperationException>(() => CaptionSheet.Write(report, _folder.File("captions.png")));
    }

    [Fact]
    public void PlacedBesideThePlotTheSheetKeepsBothImagesSideBySide()
    {
        var plot = TestImages.Write(_folder.File("plot.png"), 300, 200, (_, _) => SKColors.Navy);
        var sheet = TestImages.Write(_folder.File("captions.png"), 120, 260, (_, _) => SKColors.Orange);

        CaptionSheet.PlaceBeside(plot, sheet);

        using var both = SKBitmap.Decode(plot);
        Assert.Equal((420, 260), (both.Width, both.Height));
        Assert.Equal(SKColors.Navy, both.GetPixel(150, 100));
        Assert.Equal(SKColors.Orange, both.GetPixel(360, 250));
        Assert.Equal(SKColors.White, both.GetPixel(150, 230));   // below the shorter plot
    }
}
