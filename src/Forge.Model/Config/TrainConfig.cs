namespace Forge.Model.Config;

/// <summary>
/// `[train]`. Batch semantics for elastic runs: `global_batch_size` samples make one optimizer step
/// whatever the world size; `batch_size` is the per-rank micro-batch (KempnerForge's meaning), and
/// gradient accumulation fills the difference.
/// </summary>
public sealed record TrainConfig
{
    public int BatchSize { get; init; } = 16;
    /// <summary>0 means batch_size * world size * grad_accum_steps of the first world (fixed from then on).</summary>
    public int GlobalBatchSize { get; init; } = 32;
    public long MaxSteps { get; init; } = 200;
    public double GradClipNorm { get; init; } = 1.0;
    public long Seed { get; init; } = 42;
    /// <summary>"bf16" (bf16 compute, fp32 master weights) or "fp32". CPU runs always use fp32.</summary>
    public string MixedPrecision { get; init; } = "bf16";
    public long LogInterval { get; init; } = 10;
    public long EvalInterval { get; init; } = 50;
    public int EvalBatches { get; init; } = 4;
    /// <summary>Held-out images per test whose greedy captions are printed and drawn at the end of a run.</summary>
    public int GenerateSamples { get; init; } = 6;
    /// <summary>Held-out images per test captioned at the end to score exact match and similarity; 0 = the whole set.</summary>
    public int ScoreSamples { get; init; } = 64;
}
