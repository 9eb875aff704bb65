using Forge.Host.Benchmarks;

namespace Forge.Host.Tests.Benchmarks;

public sealed class DataLoadingBenchmarkTests
{
    [Fact]
    public void SyntheticRunReportsEveryFigureAndServesAllButTheFirstStepFromPrefetch()
    {
        var output = new StringWriter();

        var result = DataLoadingBenchmark.Run(output, new DataBenchmarkOptions
        {
            SyntheticImages = 12, GlobalBatchSize = 4, Steps = 5, Workers = 2, Prefetch = 2, DecodeImages = 12,
        });

        Assert.Equal(12, result.Samples);
        Assert.True(result.DecodeImagesPerSecond > 0 && result.BatchesPerSecond > 0);
        Assert.Equal((4L, 1L), (result.PrefetchHits, result.PrefetchMisses));
        Assert.Contains("images/s", output.ToString());
        Assert.Contains("batches/s", output.ToString());
    }
}
