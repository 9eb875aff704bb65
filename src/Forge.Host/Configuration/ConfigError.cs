namespace Forge.Host.Configuration;

/// <summary>
/// One problem in a job config: where it is, the key and value as written, and what was expected
/// instead. <see cref="Key"/> is null for TOML syntax errors, which have no key yet.
/// </summary>
public sealed record ConfigError(ConfigLocation Location, string? Key, string? Value, string Expected)
{
    public override string ToString()
    {
        if (Key is null) return $"{Location}: {Expected}";
        var value = Location.IsDefault ? $"{Value} (default)" : Value;
        return $"{Location}: {Key} = {value}: {Expected}";
    }
}
