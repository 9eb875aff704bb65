namespace Forge.Model.Config;

/// <summary>`[scheduler]`: "cosine" (warmup + cosine to min_lr_ratio), "linear" or "constant".</summary>
public sealed record SchedulerConfig
{
    public const string Cosine = "cosine";
    public const string Linear = "linear";
    public const string Constant = "constant";
    /// <summary>The `name`s: validation accepts exactly these and LrSchedule implements each.</summary>
    public static IReadOnlyList<string> Names { get; } = [Cosine, Linear, Constant];

    public string Name { get; init; } = Cosine;
    public long WarmupSteps { get; init; } = 20;
    /// <summary>0 means decay over the remaining steps after warmup.</summary>
    public long DecaySteps { get; init; }
    public double MinLrRatio { get; init; } = 0.1;
}
