namespace Forge.Host.Configuration;

/// <summary>A config that failed to load; carries every problem found, not just the first.</summary>
public sealed class ConfigException(IReadOnlyList<ConfigError> errors)
    : Exception(Describe(errors))
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;

    private static string Describe(IReadOnlyList<ConfigError> errors) =>
        errors.Count == 1
            ? $"invalid config: {errors[0]}"
            : $"invalid config ({errors.Count} problems):\n" + string.Join("\n", errors.Select(e => $"  {e}"));
}
