namespace Forge.Host.Benchmarks;

/// <summary>The figures `forge bench data` prints.</summary>
public sealed record DataBenchmarkResult(
    int Samples,
    double DecodeImagesPerSecond,
    double BatchesPerSecond,
    double LoadedImagesPerSecond,
    double MeanWaitMilliseconds,
    long PrefetchHits,
    long PrefetchMisses);
