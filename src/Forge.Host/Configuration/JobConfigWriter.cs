using System.Collections;
using System.Text.RegularExpressions;
using Forge.Model.Config;
using Tomlyn;
using Tomlyn.Model;

namespace Forge.Host.Configuration;

/// <summary>
/// Writes the resolved config (file plus overrides plus defaults, every key spelt out) as TOML,
/// so runs/&lt;run&gt;/config.resolved.toml alone reproduces the job and `forge resume` reads it back.
/// </summary>
public static partial class JobConfigWriter
{
    public const string ResolvedFileName = "config.resolved.toml";

    /// <summary>The config as TOML, a blank line before each table header for the reader's eye.</summary>
    public static string ToToml(JobConfig config) =>
        TableHeader().Replace(TomlSerializer.Serialize(ToTable(config)), "\n$1");

    // Every value the writer emits is single-line, so a line opening with '[' is always a header.
    [GeneratedRegex(@"(?m)^(\[)")]
    private static partial Regex TableHeader();

    public static string Save(JobConfig config, string runDirectory)
    {
        Directory.CreateDirectory(runDirectory);
        var path = Path.Combine(runDirectory, ResolvedFileName);
        File.WriteAllText(path, "# Resolved by forge: the config file, its --set overrides and every default.\n" + ToToml(config));
        return path;
    }

    private static TomlTable ToTable(object record)
    {
        var table = new TomlTable();
        // Scalars first: TOML puts a table's own keys before its sub-tables.
        var keys = ConfigSchema.KeysOf(record.GetType());
        foreach (var key in keys.OrderBy(k => ConfigSchema.IsSection(k.Property.PropertyType) ? 1 : 0))
            table[key.Name] = ToToml(key.Property.GetValue(record)!);
        return table;
    }

    private static object ToToml(object value) => value switch
    {
        int i => (long)i,
        long or double or bool or string => value,
        // An empty list stays an explicit `key = []`: leaving it out would bring back the default.
        IList { Count: 0 } => new TomlArray(),
        IList list when ConfigSchema.IsSection(list[0]!.GetType()) => ToTableArray(list),
        IList list => ToArray(list),
        _ => ToTable(value),
    };

    private static TomlTableArray ToTableArray(IList list)
    {
        var array = new TomlTableArray();
        foreach (var item in list) array.Add(ToTable(item!));
        return array;
    }

    private static TomlArray ToArray(IList list)
    {
        var array = new TomlArray();
        foreach (var item in list) array.Add(ToToml(item!));
        return array;
    }
}
