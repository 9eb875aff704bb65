namespace Forge.Model.Config;

/// <summary>`[optimizer]`: AdamW with decoupled weight decay.</summary>
public sealed record OptimizerConfig
{
    public string Name { get; init; } = "adamw";
    public double Lr { get; init; } = 3e-4;
    public double WeightDecay { get; init; } = 0.1;
    public IReadOnlyList<double> Betas { get; init; } = [0.9, 0.95];
    public double Eps { get; init; } = 1e-8;
}
