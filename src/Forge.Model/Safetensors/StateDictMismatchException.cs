namespace Forge.Model.Safetensors;

/// <summary>A safetensors file does not match a module: names every missing, unexpected and mis-shaped tensor.</summary>
public sealed class StateDictMismatchException(
    string path,
    IReadOnlyList<string> missing,
    IReadOnlyList<string> unexpected,
    IReadOnlyList<string> misShaped)
    : IOException(Describe(path, missing, unexpected, misShaped))
{
    public IReadOnlyList<string> Missing { get; } = missing;
    public IReadOnlyList<string> Unexpected { get; } = unexpected;
    /// <summary>"name: file [a, b] vs model [c, d]" lines.</summary>
    public IReadOnlyList<string> MisShaped { get; } = misShaped;

    private static string Describe(string path, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> misShaped)
    {
        var parts = new List<string>();
        if (missing.Count > 0) parts.Add($"missing {missing.Count} tensor(s): {string.Join(", ", missing)}");
        if (unexpected.Count > 0) parts.Add($"unexpected {unexpected.Count} tensor(s): {string.Join(", ", unexpected)}");
        if (misShaped.Count > 0) parts.Add($"mis-shaped {misShaped.Count} tensor(s): {string.Join("; ", misShaped)}");
        return $"{path} does not match the model: {string.Join(" | ", parts)}";
    }
}
