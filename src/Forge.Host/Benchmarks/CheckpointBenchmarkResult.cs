namespace Forge.Host.Benchmarks;

/// <summary>The figures of one benchmark run (seconds unless named otherwise).</summary>
public sealed record CheckpointBenchmarkResult(
    double StateMiB,
    double FirstCopySeconds,
    double WriteSeconds,
    double CommitSeconds,
    double ReadSeconds,
    double LoadSeconds,
    IReadOnlyList<double> StallSeconds,
    IReadOnlyList<double> DurableSeconds,
    int Deferred)
{
    public double WriteMiBPerSecond => StateMiB / WriteSeconds;
    public double ReadMiBPerSecond => StateMiB / ReadSeconds;
}
