namespace Forge.Host.Benchmarks;

/// <summary>What to measure: a model preset, the ranks (threads of this process), precision and device.</summary>
public sealed record EngineBenchmarkOptions
{
    public string Preset { get; init; } = "ca-tiny";
    public int Ranks { get; init; } = 1;
    public int Steps { get; init; } = 10;
    public int Warmup { get; init; } = 3;
    /// <summary>"bf16" (bf16 compute, fp32 master weights) or "fp32".</summary>
    public string DType { get; init; } = "bf16";
    /// <summary>"cuda" (rank r on cuda:r) or "cpu".</summary>
    public string Device { get; init; } = "cuda";
    /// <summary>Also time the bare model step (forward, backward, clip, AdamW without the engine) for the overhead figure.</summary>
    public bool CompareWithModelStep { get; init; } = true;
}
