using System.Globalization;
using Tomlyn.Model;

namespace Forge.Host.Configuration;

/// <summary>How config values and types read in error messages.</summary>
internal static class TomlText
{
    public static string Format(object? raw) => raw switch
    {
        null => "(nothing)",
        string s => $"\"{s}\"",
        bool b => b ? "true" : "false",
        double d => FormatFloat(d),
        long l => l.ToString(CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        TomlArray a => "[" + string.Join(", ", a.Select(Format)) + "]",
        TomlTableArray t => "[" + string.Join(", ", t.Select(Format)) + "]",
        TomlTable t => "{ " + string.Join(", ", t.Select(kv => $"{kv.Key} = {Format(kv.Value)}")) + " }",
        System.Collections.IEnumerable e => "[" + string.Join(", ", e.Cast<object>().Select(Format)) + "]",
        _ => raw.ToString() ?? "",
    };

    /// <summary>A float as TOML spells it, so `dim = 128.0` is quoted back as 128.0, not 128.</summary>
    private static string FormatFloat(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        var text = d.ToString("R", CultureInfo.InvariantCulture);
        return text.AsSpan().IndexOfAny('.', 'E') >= 0 ? text : text + ".0";
    }

    public static string Describe(Type type)
    {
        if (type == typeof(int) || type == typeof(long)) return "an integer";
        if (type == typeof(double)) return "a number";
        if (type == typeof(bool)) return "true or false";
        if (type == typeof(string)) return "a string";
        if (ConfigSchema.IsList(type, out var element))
            return ConfigSchema.IsSection(element) ? "an array of tables" : $"an array of {Plural(Describe(element))}";
        return "a table";
    }

    private static string Plural(string description) => description switch
    {
        "an integer" => "integers",
        "a number" => "numbers",
        "a string" => "strings",
        _ => description,
    };
}
