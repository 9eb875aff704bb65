namespace Forge.Host.Configuration;

/// <summary>Where each key path (<c>model.dim</c>, <c>vlm.freeze[0].module</c>) was written, for validation errors.</summary>
public sealed class ConfigLocations(string file)
{
    private readonly Dictionary<string, ConfigLocation> _byKey = new(StringComparer.Ordinal);

    public string File { get; } = file;

    internal void Record(string keyPath, ConfigLocation location) => _byKey[keyPath] = location;

    public ConfigLocation? Of(string keyPath) => _byKey.GetValueOrDefault(keyPath);

    /// <summary>The written location, or "the file, default value" for keys the file leaves out.</summary>
    public ConfigLocation OfOrDefault(string keyPath) => Of(keyPath) ?? ConfigLocation.DefaultIn(File);
}
