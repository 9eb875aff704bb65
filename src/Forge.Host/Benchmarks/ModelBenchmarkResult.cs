using static TorchSharp.torch;

namespace Forge.Host.Benchmarks;

/// <summary>The figures `forge bench model` prints; Mfu is NaN on a CPU.</summary>
public sealed record ModelBenchmarkResult(
    string Preset,
    string Device,
    ScalarType ComputeDType,
    long TrainableParameters,
    double SecondsPerStep,
    double TextTokensPerSecond,
    double FlopsPerStep,
    double Mfu,
    long PeakDeviceMemoryBytes,
    double FinalLoss,
    StepPhaseTimes? Phases);
