namespace Forge.Host.Benchmarks;

/// <summary>Mean seconds per phase over the measured steps (phases are only separated in breakdown mode).</summary>
public sealed record StepPhaseTimes(double Forward, double Backward, double Clip, double Optimizer);
