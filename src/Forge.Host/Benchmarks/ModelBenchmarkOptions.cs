namespace Forge.Host.Benchmarks;

/// <summary>What to measure: a preset, how many steps, in which precision, on which device.</summary>
public sealed record ModelBenchmarkOptions
{
    public string Preset { get; init; } = "ca-tiny";
    public int Steps { get; init; } = 10;
    public int Warmup { get; init; } = 3;
    /// <summary>"bf16" (bf16 compute, fp32 master weights) or "fp32".</summary>
    public string DType { get; init; } = "bf16";
    /// <summary>"cuda" or "cpu".</summary>
    public string Device { get; init; } = "cuda";
    /// <summary>Synchronise between phases to time forward, backward, clip and optimizer separately.</summary>
    public bool Breakdown { get; init; }
    /// <summary>Measure with every speed lever off, each alone, then all on (<see cref="Forge.Model.Runtime.StepKernels"/>), and print a table.</summary>
    public bool Levers { get; init; }
    /// <summary>Dense peak of the accelerator for MFU, TFLOP/s (H100 SXM bf16: 989).</summary>
    public double PeakTflops { get; init; } = 989;
}
