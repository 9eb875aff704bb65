using Tomlyn;
using Tomlyn.Model;

namespace Forge.Host.Configuration;

/// <summary>
/// A `--set section.key=value` assignment. The value is read as a TOML value (<c>128</c>,
/// <c>1e-3</c>, <c>true</c>, <c>[0.9, 0.99]</c>, <c>"text"</c>), and a bare word that is not TOML
/// (<c>cosine</c>) as a string, so shells need no extra quoting. It is written into the parsed
/// document before binding, so it meets exactly the checks a value in the file meets.
/// </summary>
public sealed record ConfigOverride(string KeyPath, object Value, string Assignment)
{
    public static ConfigOverride Parse(string assignment)
    {
        var equals = assignment.IndexOf('=');
        var keyPath = equals > 0 ? assignment[..equals].Trim() : "";
        if (keyPath.Length == 0 || keyPath.Split('.').Any(part => part.Length == 0))
            throw new ConfigException([new ConfigError(ConfigLocation.Override(assignment), null, null,
                "expected section.key=value, for example --set train.max_steps=500")]);
        return new ConfigOverride(keyPath, ParseValue(assignment[(equals + 1)..].Trim()), assignment);
    }

    private static object ParseValue(string text)
    {
        try
        {
            var document = TomlSerializer.Deserialize<TomlTable>($"value = {text}");
            if (document is not null && document.TryGetValue("value", out var value)) return value;
        }
        catch (TomlException)
        {
            // Not a TOML literal: the word itself is the string value.
        }
        return text;
    }

    /// <summary>Writes the value into <paramref name="root"/>, creating tables on the way; returns every key path it created or replaced.</summary>
    internal IEnumerable<string> ApplyTo(TomlTable root)
    {
        var parts = KeyPath.Split('.');
        var table = root;
        var path = "";
        for (var i = 0; i < parts.Length - 1; i++)
        {
            path = path.Length == 0 ? parts[i] : $"{path}.{parts[i]}";
            if (!table.TryGetValue(parts[i], out var next) || next is not TomlTable nested)
            {
                nested = new TomlTable();
                table[parts[i]] = nested;
                yield return path;
            }
            table = nested;
        }
        table[parts[^1]] = Value;
        yield return KeyPath;
    }
}
