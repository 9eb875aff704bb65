using Forge.Model.Training;

namespace Forge.Host.Benchmarks;

/// <summary>
/// Rank 0's figures: mean seconds per phase over the measured steps run with the device waited for at
/// each phase boundary (the breakdown), the median step of as many steps run without those waits (the
/// figure compared with the bare model step, which is timed the same way), and the AdamW kernel.
/// </summary>
public sealed record EngineBenchmarkResult(string Preset, int Ranks, StepTimings Mean, double MedianTotal, double? BareModelStep, string OptimizerKernel)
{
    /// <summary>Engine step time over the bare model step, minus one (0.05 = 5% slower).</summary>
    public double? Overhead => BareModelStep is { } bare ? MedianTotal / bare - 1 : null;
}
