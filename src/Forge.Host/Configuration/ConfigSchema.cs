using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using Forge.Model.Config;

namespace Forge.Host.Configuration;

/// <summary>
/// The TOML keys of a config record: each settable property under its snake_case name
/// (<c>NKvHeads</c> is <c>n_kv_heads</c>), in declaration order. Derived from the records in
/// Forge.Model.Config, so a property added there is a key here without further registration.
/// </summary>
internal static class ConfigSchema
{
    // Names the snake_case rule would split where a person would not ("MiB" is one word), and keys
    // that kept their name when they grew into a list (data.manifest holds DataConfig.Manifests).
    private static readonly Dictionary<string, string> Spelling = new() { ["ChunkMiB"] = "chunk_mib", ["Manifests"] = "manifest" };

    private static readonly ConcurrentDictionary<Type, IReadOnlyList<ConfigKey>> Cache = new();

    public static IReadOnlyList<ConfigKey> KeysOf(Type record) => Cache.GetOrAdd(record, Discover);

    public static ConfigKey? Find(Type record, string key) => KeysOf(record).FirstOrDefault(k => k.Name == key);

    public static string TomlName(string propertyName) =>
        Spelling.TryGetValue(propertyName, out var name) ? name : JsonNamingPolicy.SnakeCaseLower.ConvertName(propertyName);

    /// <summary>A record type bound from a TOML table (as opposed to a scalar or a list).</summary>
    public static bool IsSection(Type type) =>
        type.IsClass && type != typeof(string) && type.GetConstructor(Type.EmptyTypes) is not null && !IsList(type, out _);

    public static bool IsList(Type type, out Type element)
    {
        element = typeof(object);
        if (!type.IsGenericType || type.GetGenericTypeDefinition() != typeof(IReadOnlyList<>)) return false;
        element = type.GetGenericArguments()[0];
        return true;
    }

    private static IReadOnlyList<ConfigKey> Discover(Type record) =>
        record.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true })
            .OrderBy(p => p.MetadataToken)
            .Select(p => new ConfigKey(TomlName(p.Name), p, IsRequired(p), p.IsDefined(typeof(OneOrManyAttribute))))
            .ToList();

    // Matched by name: ScottPlot ships its own polyfill of RequiredMemberAttribute, so the type is ambiguous here.
    private static bool IsRequired(PropertyInfo property) =>
        property.CustomAttributes.Any(a => a.AttributeType.FullName == "System.Runtime.CompilerServices.RequiredMemberAttribute");
}

/// <summary>One key of a config section and the property it sets; <paramref name="OneOrMany"/>: a list key that also takes one value.</summary>
internal sealed record ConfigKey(string Name, PropertyInfo Property, bool Required, bool OneOrMany = false);
