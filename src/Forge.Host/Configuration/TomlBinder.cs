using Tomlyn.Model;
using Tomlyn.Serialization;

namespace Forge.Host.Configuration;

/// <summary>
/// Binds a parsed TOML table onto the config records, strictly: an unknown key (with the nearest
/// known key as a suggestion), a value of the wrong TOML type or a missing required key is an
/// error that names where it was written. Values absent from the table keep the record defaults.
/// Tomlyn's own object mapping is not used because it cannot say which line a bad value is on.
/// </summary>
internal sealed class TomlBinder(
    string file,
    TomlMetadataStore metadata,
    IReadOnlyDictionary<string, ConfigLocation> overrides,
    ConfigLocations locations,
    List<ConfigError> errors)
{
    public T BindRoot<T>(TomlTable table) where T : new() => (T)BindSection(typeof(T), table, path: "");

    private object BindSection(Type type, TomlTable table, string path)
    {
        var instance = Activator.CreateInstance(type)!;
        foreach (var (key, raw) in table)
        {
            var keyPath = path.Length == 0 ? key : $"{path}.{key}";
            var location = LocationOf(table, key, keyPath);
            locations.Record(keyPath, location);

            var target = ConfigSchema.Find(type, key);
            if (target is null)
            {
                errors.Add(new ConfigError(location, keyPath, TomlText.Format(raw), UnknownKeyMessage(type, key, path)));
                continue;
            }
            var converted = target.OneOrMany
                ? TryConvertOneOrMany(target.Property.PropertyType, raw, keyPath, location, out var value)
                : TryConvert(target.Property.PropertyType, raw, keyPath, location, out value);
            if (converted) target.Property.SetValue(instance, value);
        }
        foreach (var missing in ConfigSchema.KeysOf(type).Where(k => k.Required && !table.ContainsKey(k.Name)))
        {
            var keyPath = path.Length == 0 ? missing.Name : $"{path}.{missing.Name}";
            errors.Add(new ConfigError(locations.Of(path) ?? new ConfigLocation(file), keyPath, "(missing)",
                $"required: {TomlText.Describe(missing.Property.PropertyType)}"));
        }
        return instance;
    }

    private bool TryConvert(Type type, object raw, string keyPath, ConfigLocation location, out object? value)
    {
        value = null;
        switch (raw)
        {
            case long integer when type == typeof(int):
                if (integer is < int.MinValue or > int.MaxValue)
                    return Fail(location, keyPath, raw, "an integer within ±2147483647");
                value = (int)integer;
                return true;
            case long integer when type == typeof(long):
                value = integer;
                return true;
            case long integer when type == typeof(double):
                value = (double)integer;
                return true;
            case double real when type == typeof(double):
                value = real;
                return true;
            case bool flag when type == typeof(bool):
                value = flag;
                return true;
            case string text when type == typeof(string):
                value = text;
                return true;
        }

        if (ConfigSchema.IsList(type, out var element))
        {
            var items = raw switch
            {
                TomlArray array => array.Cast<object>().ToList(),
                TomlTableArray tables => tables.Cast<object>().ToList(),
                _ => null,
            };
            if (items is null) return Fail(location, keyPath, raw, TomlText.Describe(type));

            var converted = Array.CreateInstance(element, items.Count);
            var ok = true;
            for (var i = 0; i < items.Count; i++)
            {
                var itemPath = $"{keyPath}[{i}]";
                locations.Record(itemPath, location);
                if (TryConvert(element, items[i], itemPath, location, out var item)) converted.SetValue(item, i);
                else ok = false;
            }
            value = converted;
            return ok;
        }

        if (ConfigSchema.IsSection(type))
        {
            if (raw is not TomlTable table) return Fail(location, keyPath, raw, TomlText.Describe(type));
            value = BindSection(type, table, keyPath);
            return true;
        }

        return Fail(location, keyPath, raw, TomlText.Describe(type));
    }

    /// <summary>
    /// A list key that also takes one value: an array binds as a list, and a single value as a list of one.
    /// A single value of the wrong type is one error that names both forms.
    /// </summary>
    private bool TryConvertOneOrMany(Type listType, object raw, string keyPath, ConfigLocation location, out object? value)
    {
        if (raw is TomlArray or TomlTableArray || !ConfigSchema.IsList(listType, out var element))
            return TryConvert(listType, raw, keyPath, location, out value);
        var reported = errors.Count;
        if (!TryConvert(element, raw, keyPath, location, out var single))
        {
            errors.RemoveRange(reported, errors.Count - reported);
            value = null;
            return Fail(location, keyPath, raw, $"{TomlText.Describe(element)} or {TomlText.Describe(listType)}");
        }
        var list = Array.CreateInstance(element, 1);
        list.SetValue(single, 0);
        value = list;
        return true;
    }

    private bool Fail(ConfigLocation location, string keyPath, object raw, string expected)
    {
        errors.Add(new ConfigError(location, keyPath, TomlText.Format(raw), $"expected {expected}"));
        return false;
    }

    private ConfigLocation LocationOf(TomlTable table, string key, string keyPath)
    {
        if (overrides.TryGetValue(keyPath, out var overridden)) return overridden;
        if (metadata.TryGetProperties(table, out var properties)
            && properties is not null
            && properties.TryGetProperty(key, out var property)
            && property?.Span is { } span)
            return ConfigLocation.InFile(file, span.Start.Line + 1);
        return new ConfigLocation(file);
    }

    private static string UnknownKeyMessage(Type type, string key, string path)
    {
        var known = ConfigSchema.KeysOf(type).Select(k => k.Name).ToList();
        var where = path.Length == 0 ? "at the top level" : $"in [{path}]";
        var suggestion = KeySuggestion.Closest(key, known);
        return suggestion is not null
            ? $"unknown key {where}; did you mean '{suggestion}'?"
            : $"unknown key {where}; known keys: {string.Join(", ", known)}";
    }
}
