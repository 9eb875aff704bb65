using Forge.Model.Config;

namespace Forge.Host.Benchmarks;

/// <summary>What `forge bench data` measures with; settings a job config also has default as the job's do.</summary>
public sealed record DataBenchmarkOptions
{
    private static readonly JobConfig Defaults = new();

    /// <summary>JSONL manifest to read (the default data.manifest); ignored when <see cref="SyntheticImages"/> is positive.</summary>
    public string Manifest { get; init; } = Defaults.Data.Manifests[0];
    /// <summary>When positive, generate this many random 64x64 RGBA PNGs in a temporary folder instead.</summary>
    public int SyntheticImages { get; init; }
    public string Tokenizer { get; init; } = Defaults.Data.Tokenizer;
    public int ImageSize { get; init; } = Defaults.Data.ImageSize;
    public int MaxTextLen { get; init; } = Defaults.Vlm.MaxTextLen;
    public int GlobalBatchSize { get; init; } = Defaults.Train.GlobalBatchSize;
    public int Steps { get; init; } = 100;
    /// <summary>Loader threads; 0 means min(4, cores).</summary>
    public int Workers { get; init; } = Defaults.Data.NumWorkers;
    public int Prefetch { get; init; } = Defaults.Data.Prefetch;
    /// <summary>Time the consumer spends per step, standing in for the GPU: shows whether loading keeps ahead of it.</summary>
    public double ComputeMilliseconds { get; init; }
    /// <summary>Images decoded one by one on one thread for the single-thread figure.</summary>
    public int DecodeImages { get; init; } = 512;
}
