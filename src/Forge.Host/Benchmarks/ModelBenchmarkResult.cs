using static TorchSharp.torch;

namespace Forge.Host.Benchmarks;

/// <summary>
/// The figures `forge bench model` prints; Mfu is NaN on a CPU. PeakAllocatedBytes is the CUDA
/// caching allocator's peak of bytes held by tensors over model build and steps (what
/// torch.cuda.max_memory_allocated reports), 0 where it cannot be read.
/// </summary>
public sealed record ModelBenchmarkResult(
    string Preset,
    string Device,
    ScalarType ComputeDType,
    long TrainableParameters,
    double SecondsPerStep,
    double TextTokensPerSecond,
    double FlopsPerStep,
    double Mfu,
    long PeakAllocatedBytes,
    string Levers,
    double FinalLoss,
    StepPhaseTimes? Phases);
