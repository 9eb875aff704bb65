namespace Forge.Model.Config;

/// <summary>`[metrics]`: where progress goes.</summary>
public sealed record MetricsConfig
{
    public bool Tensorboard { get; init; } = true;
    public bool Jsonl { get; init; } = true;
}
