using System.Text.RegularExpressions;
using Forge.Host.Configuration;
using Forge.Model.Config;

namespace Forge.Host.Tests.Configuration;

/// <summary>
/// The README's configuration reference against the config records: every key is named, and the
/// default the README gives each key is the record's default.
/// <para>
/// How a default is compared: the README's value (a table row's default cell, or the first value in
/// the parentheses after a key in a one-line section such as <c>`lr` (3e-4, &gt; 0)</c>) is set as
/// that key in an otherwise empty config, which is loaded through <see cref="JobConfigLoader"/>
/// and written back with <see cref="JobConfigWriter"/>; it must give the same resolved TOML as the
/// empty config. So numbers compare as numbers (<c>1e-5</c>, <c>1.0</c>), strings, booleans and
/// lists element by element, and <c>vlm.freeze</c>'s array of tables with the defaults of its
/// entries' own keys. Every key has a value the README spells as TOML, so every key is compared;
/// a default written as prose would fail here and should be rewritten as a value.
/// </para>
/// </summary>
public sealed partial class ReadmeReferenceTests
{
    private static string Reference()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "README.md"));
        var start = readme.IndexOf("## Configuration", StringComparison.Ordinal);
        var end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        return end < 0 ? readme[start..] : readme[start..end];
    }

    /// <summary>Every key of the schema as "section.key" (or "key" at the top level) with its record type.</summary>
    private static IEnumerable<(string Section, ConfigKey Key)> AllKeys()
    {
        foreach (var entry in ConfigSchema.KeysOf(typeof(JobConfig)))
        {
            if (!ConfigSchema.IsSection(entry.Property.PropertyType))
            {
                yield return ("", entry);
                continue;
            }
            foreach (var key in ConfigSchema.KeysOf(entry.Property.PropertyType))
                yield return (entry.Name, key);
        }
    }

    [Fact]
    public void TheReadmeConfigurationReferenceNamesEveryKey()
    {
        var documented = Regex.Matches(Reference(), "`([a-z_0-9]+)`").Select(m => m.Groups[1].Value).ToHashSet();

        var missing = AllKeys().Where(k => !documented.Contains(k.Key.Name)).Select(k => KeyPath(k.Section, k.Key.Name));

        Assert.Empty(missing);
    }

    [Fact]
    public void TheReadmeDefaultOfEveryKeyIsTheRecordDefault()
    {
        var defaults = ReadmeDefaults(Reference());
        var expected = JobConfigWriter.ToToml(new JobConfig());

        var problems = new List<string>();
        foreach (var (section, key) in AllKeys())
        {
            var path = KeyPath(section, key.Name);
            if (!defaults.TryGetValue(path, out var written))
            {
                problems.Add($"{path}: the README gives no default");
                continue;
            }
            var toml = section.Length == 0 ? $"{key.Name} = {written}\n" : $"[{section}]\n{key.Name} = {written}\n";
            string actual;
            try
            {
                actual = JobConfigWriter.ToToml(JobConfigLoader.Parse(toml, "README.md"));
            }
            catch (ConfigException e)
            {
                problems.Add($"{path}: the README's default {written} does not load: {e.Message}");
                continue;
            }
            if (actual != expected)
                problems.Add($"{path}: the README says {written}, the record's default is {TomlValueOf(expected, section, key.Name)}");
        }

        Assert.Empty(problems);
    }

    [Fact]
    public void TheDefaultCheckSeesAWrongReadmeDefault()
    {
        var edited = Reference().Replace("| `n_layers` | 4 |", "| `n_layers` | 5 |").Replace("`lr` (3e-4,", "`lr` (1e-3,");

        var defaults = ReadmeDefaults(edited);

        Assert.Equal("5", defaults["model.n_layers"]);
        Assert.Equal("1e-3", defaults["optimizer.lr"]);
        Assert.NotEqual(JobConfigWriter.ToToml(new JobConfig()),
            JobConfigWriter.ToToml(JobConfigLoader.Parse("[model]\nn_layers = 5\n", "README.md")));
    }

    /// <summary>
    /// The defaults the reference writes, by key path. A section starts at a line opening with its
    /// header (<c>`[model]`,</c> or <c>`[train]`:</c>); keys before the first header are top-level. Table rows give their
    /// key cell (one key or several, e.g. <c>`mean`, `std`</c>) the default cell; elsewhere a key
    /// written as <c>`key` (value…</c> has that value.
    /// </summary>
    private static Dictionary<string, string> ReadmeDefaults(string reference)
    {
        var defaults = new Dictionary<string, string>(StringComparer.Ordinal);
        var headers = SectionHeader().Matches(reference);
        for (var i = -1; i < headers.Count; i++)
        {
            var section = i < 0 ? "" : headers[i].Groups[1].Value;
            var from = i < 0 ? 0 : headers[i].Index;
            var to = i + 1 < headers.Count ? headers[i + 1].Index : reference.Length;
            var text = reference[from..to];
            foreach (Match row in TableRow().Matches(text))
                foreach (Match key in Regex.Matches(row.Groups[1].Value, "`([a-z_0-9]+)`"))
                    defaults[KeyPath(section, key.Groups[1].Value)] = Unquote(row.Groups[2].Value.Trim());
            foreach (Match inline in InlineDefault().Matches(text))
                defaults.TryAdd(KeyPath(section, inline.Groups[1].Value), Unquote(inline.Groups[2].Value));
        }
        return defaults;
    }

    private static string KeyPath(string section, string key) => section.Length == 0 ? key : $"{section}.{key}";

    private static string Unquote(string cell) => cell.Length > 1 && cell[0] == '`' && cell[^1] == '`' ? cell[1..^1] : cell;

    /// <summary>The value line of one key in resolved TOML, for the failure message.</summary>
    private static string TomlValueOf(string toml, string section, string key)
    {
        var body = section.Length == 0 ? toml : toml[toml.IndexOf($"[{section}]\n", StringComparison.Ordinal)..];
        var line = body.Split('\n').FirstOrDefault(l => l.StartsWith($"{key} = ", StringComparison.Ordinal));
        return line?[(key.Length + 3)..] ?? "(not found)";
    }

    // A header opens its section's text ("`[train]`:", "`[model]`, the …"), unlike a mention ("`[elastic]`;").
    [GeneratedRegex(@"(?m)^`\[([a-z_]+)\]`[:,]")]
    private static partial Regex SectionHeader();

    [GeneratedRegex(@"(?m)^\| ((?:`[a-z_0-9]+`(?:, )?)+) \| ([^|]+) \|")]
    private static partial Regex TableRow();

    // The value is a backticked literal or a bare one up to the first separator: `lr` (3e-4, > 0).
    [GeneratedRegex(@"`([a-z_0-9]+)` \((`[^`]+`|[^,:;= )]+)")]
    private static partial Regex InlineDefault();
}
