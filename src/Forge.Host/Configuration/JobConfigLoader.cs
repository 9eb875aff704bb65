using Forge.Model.Config;
using Tomlyn;
using Tomlyn.Model;
using Tomlyn.Serialization;

namespace Forge.Host.Configuration;

/// <summary>
/// Reads a job's TOML config into <see cref="JobConfig"/>: parse (Tomlyn), apply `--set`
/// overrides, bind strictly, validate. Any problem throws one <see cref="ConfigException"/>
/// listing all of them, each naming the file (or override), key, value and expectation.
/// </summary>
public static class JobConfigLoader
{
    public static JobConfig Load(string path, IEnumerable<string>? overrides = null)
    {
        if (!File.Exists(path))
            throw new ConfigException([new ConfigError(new ConfigLocation(path), null, null, "config file not found")]);
        return Parse(File.ReadAllText(path), path, overrides);
    }

    /// <summary>Loads TOML text; <paramref name="sourceName"/> is what errors call the file.</summary>
    public static JobConfig Parse(string toml, string sourceName, IEnumerable<string>? overrides = null)
    {
        var metadata = new TomlMetadataStore();
        TomlTable document;
        try
        {
            document = TomlSerializer.Deserialize<TomlTable>(toml, new TomlSerializerOptions { SourceName = sourceName, MetadataStore = metadata })
                       ?? new TomlTable();
        }
        catch (TomlException e)
        {
            var location = e.Line is { } line ? ConfigLocation.InFile(sourceName, line) : new ConfigLocation(sourceName);
            throw new ConfigException([new ConfigError(location, null, null, $"TOML syntax: {SyntaxMessage(e)}")]);
        }

        var overrideLocations = new Dictionary<string, ConfigLocation>(StringComparer.Ordinal);
        foreach (var assignment in overrides ?? [])
        {
            var parsed = ConfigOverride.Parse(assignment);
            foreach (var keyPath in parsed.ApplyTo(document))
                overrideLocations[keyPath] = ConfigLocation.Override(assignment);
        }

        var errors = new List<ConfigError>();
        var locations = new ConfigLocations(sourceName);
        var config = new TomlBinder(sourceName, metadata, overrideLocations, locations, errors).BindRoot<JobConfig>(document);
        // Validating a half-bound config would blame keys for values the user never wrote.
        if (errors.Count == 0) config = PretrainedModelConfig.Apply(config, locations, errors);
        if (errors.Count == 0) config = PretrainedVisionConfig.Apply(config, locations, errors);
        if (errors.Count == 0) new JobConfigValidator(locations, errors).Validate(config);
        if (errors.Count > 0) throw new ConfigException(errors);
        return config;
    }

    /// <summary>Tomlyn prefixes its own "file(line,col) : error : "; the location is printed by us.</summary>
    private static string SyntaxMessage(TomlException e)
    {
        var message = e.Diagnostics is { Count: > 0 } diagnostics ? diagnostics[0].Message : e.Message;
        var marker = message.IndexOf(": error : ", StringComparison.Ordinal);
        return marker >= 0 ? message[(marker + ": error : ".Length)..] : message;
    }
}
