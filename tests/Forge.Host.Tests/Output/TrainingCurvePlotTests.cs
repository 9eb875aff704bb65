using System.Buffers.Binary;
using Forge.Host.Output;

namespace Forge.Host.Tests.Output;

public sealed class TrainingCurvePlotTests
{
    [Fact]
    public void APlotIsAPngOfTheRequestedSize()
    {
        using var dir = new TempDirectory();
        var points = Enumerable.Range(1, 30)
            .Select(s => new MetricsPoint(s * 10, 6.0 / s, s % 10 == 0 ? 6.5 / s : null, 1e-3, 1.0, 1000 + s, 2, s))
            .ToList();

        TrainingCurvePlot.Write(points, dir.File("plot.png"), "test", width: 640, height: 360);

        var png = File.ReadAllBytes(dir.File("plot.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(640, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(360, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }

    [Fact]
    public void NothingToPlotIsAnError()
    {
        using var dir = new TempDirectory();

        Assert.Throws<InvalidOperationException>(() =>
            TrainingCurvePlot.Write([new MetricsPoint(1, null, 2.0, null, null, null, null, null)], dir.File("p.png"), "t"));
        Assert.False(File.Exists(dir.File("p.png")));
    }
}
