namespace Forge.Model.Config;

/// <summary>
/// `[train]`. Batch semantics for elastic runs: `global_batch_size` samples make one optimizer step
/// whatever the world size; `batch_size` is the per-rank micro-batch (KempnerForge's meaning), and
/// gradient accumulation fills the difference.
/// </summary>
public sealed record TrainConfig
{
    public const string Bf16 = "bf16";
    public const string Fp32 = "fp32";
    /// <summary>The `mixed_precision` names: validation accepts exactly these and MixedPrecision maps each to a dtype.</summary>
    public static IReadOnlyList<string> MixedPrecisions { get; } = [Bf16, Fp32];

    public int BatchSize { get; init; } = 16;
    /// <summary>
    /// Samples per optimizer step, constant whatever the world size; 0 = batch_size × the world size of the job's first world, fixed by the supervisor when the job first forms and recorded in checkpoints, so it stays the same after re-formations and resumes.
    /// </summary>
    public int GlobalBatchSize { get; init; } = 32;
    public long MaxSteps { get; init; } = 200;
    public double GradClipNorm { get; init; } = 1.0;
    public long Seed { get; init; } = 42;
    /// <summary>"bf16" (bf16 compute, fp32 master weights) or "fp32". CPU runs always use fp32.</summary>
    public string MixedPrecision { get; init; } = Bf16;
    public long LogInterval { get; init; } = 10;
    public long EvalInterval { get; init; } = 50;
    public int EvalBatches { get; init; } = 4;
    /// <summary>Held-out images per test whose greedy captions are printed and drawn at the end of a run.</summary>
    public int GenerateSamples { get; init; } = 6;
    /// <summary>
    /// A step whose loss or gradient norm is not finite is skipped on every rank (no update). After this
    /// many skipped steps in a row the job stops, and its last committed checkpoint is left as it was.
    /// </summary>
    public int MaxBadSteps { get; init; } = 5;
    /// <summary>Held-out images per test captioned at the end to score exact match and similarity; 0 = the whole set.</summary>
    public int ScoreSamples { get; init; } = 64;
}
