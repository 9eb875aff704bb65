namespace Forge.Model.Config;

/// <summary>`[scheduler]`: "cosine" (warmup + cosine to min_lr_ratio), "linear" or "constant".</summary>
public sealed record SchedulerConfig
{
    public string Name { get; init; } = "cosine";
    public long WarmupSteps { get; init; } = 20;
    /// <summary>0 means decay over the remaining steps after warmup.</summary>
    public long DecaySteps { get; init; }
    public double MinLrRatio { get; init; } = 0.1;
}
