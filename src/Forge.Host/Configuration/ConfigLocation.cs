namespace Forge.Host.Configuration;

/// <summary>
/// Where a config value came from: a line of a TOML file, a `--set` override, or the record's
/// default (the key is absent from the file). Printed at the head of every config error.
/// </summary>
public sealed record ConfigLocation(string Source, int? Line = null, bool IsDefault = false)
{
    public static ConfigLocation InFile(string file, int line) => new(file, line);
    public static ConfigLocation Override(string assignment) => new($"--set {assignment}");
    public static ConfigLocation DefaultIn(string file) => new(file, IsDefault: true);

    public override string ToString() => Line is { } line ? $"{Source}:{line}" : Source;
}
