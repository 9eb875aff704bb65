namespace Forge.Model.Data;

/// <summary>A manifest row that was skipped (data.skip_bad_samples = true), and why.</summary>
public sealed record BadSample(string Manifest, int Line, string Reason)
{
    public override string ToString() => $"{Manifest}:{Line}: {Reason}";
}
