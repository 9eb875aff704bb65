namespace Forge.Model.Config;

/// <summary>`[optimizer]`: AdamW with decoupled weight decay.</summary>
public sealed record OptimizerConfig
{
    public const string AdamW = "adamw";
    /// <summary>The `name`s: validation accepts exactly these and ShardedAdamW implements each.</summary>
    public static IReadOnlyList<string> Names { get; } = [AdamW];

    public string Name { get; init; } = AdamW;
    public double Lr { get; init; } = 3e-4;
    public double WeightDecay { get; init; } = 0.1;
    public IReadOnlyList<double> Betas { get; init; } = [0.9, 0.95];
    public double Eps { get; init; } = 1e-8;
}
