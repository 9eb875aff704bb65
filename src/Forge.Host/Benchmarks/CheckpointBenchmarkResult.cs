namespace Forge.Host.Benchmarks;

/// <summary>The figures of one benchmark run (seconds unless named otherwise). <see cref="LoadSeconds"/> is the restore's
/// time onto the device after the last read; <see cref="DeviceCopySeconds"/> all its copies, most of them overlapped with the reads.
/// The Resume figures are a rank's resume path: the read into fresh arrays, then the copy onto the device after it.</summary>
public sealed record CheckpointBenchmarkResult(
    double StateMiB,
    double FirstCopySeconds,
    double WriteSeconds,
    double CommitSeconds,
    double ReadSeconds,
    double LoadSeconds,
    double DeviceCopySeconds,
    double ResumeReadSeconds,
    double ResumeLoadSeconds,
    IReadOnlyList<double> StallSeconds,
    IReadOnlyList<double> DurableSeconds,
    int Deferred)
{
    public double WriteMiBPerSecond => StateMiB / WriteSeconds;
    public double ReadMiBPerSecond => StateMiB / ReadSeconds;
}
