namespace Forge.Actors.Checkpointing;

/// <summary>The figures of one benchmark run.</summary>
public sealed record CheckpointBenchmarkResult(
    double StateMiB,
    double WriteSeconds,
    double CommitSeconds,
    double ReadSeconds,
    IReadOnlyList<double> StallSeconds,
    IReadOnlyList<double> CopySeconds,
    IReadOnlyList<double> DurableSeconds)
{
    public double WriteMiBPerSecond => StateMiB / WriteSeconds;
    public double ReadMiBPerSecond => StateMiB / ReadSeconds;
}
