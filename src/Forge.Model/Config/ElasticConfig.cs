namespace Forge.Model.Config;

/// <summary>`[elastic]`: world size bounds and the policy when ranks are lost or join.</summary>
public sealed record ElasticConfig
{
    public int MinRanks { get; init; } = 1;
    /// <summary>0 means no upper bound.</summary>
    public int MaxRanks { get; init; }
    /// <summary>Replacement attempts before the job gives up.</summary>
    public int MaxRestarts { get; init; } = 10;
}
