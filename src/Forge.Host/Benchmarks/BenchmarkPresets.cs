using Forge.Host.Configuration;
using Forge.Model.Config;

namespace Forge.Host.Benchmarks;

/// <summary>
/// The models `forge bench model` and `forge bench engine` time, by preset name. Each preset is a
/// shipped config file, loaded through <see cref="JobConfigLoader"/>, so the file is the one
/// definition of its model: what the benchmark times is what `forge train` on that file builds.
/// A new preset is one file under config/ and one entry here.
/// </summary>
public static class BenchmarkPresets
{
    private static readonly IReadOnlyDictionary<string, string> Files = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["ca-tiny"] = "ca-tiny-bench.toml",
        ["ca-1b"] = "ca-1b-gpu.toml",
        ["moe-ca-tiny"] = "moe-ca-tiny-bench.toml",
        ["mot-tiny"] = "mot-tiny-bench.toml",
        ["moe-ca-debug"] = "moe-ca-debug-bench.toml",
        ["mot-debug"] = "mot-debug-bench.toml",
    };

    public static IReadOnlyList<string> Names { get; } = [.. Files.Keys];

    /// <summary>The config file of a preset, relative to the config folder.</summary>
    public static string FileOf(string preset) => Files.TryGetValue(preset, out var file)
        ? file
        : throw new ArgumentException($"--preset '{preset}' is unknown; expected one of {string.Join(", ", Names)}");

    /// <summary>
    /// The preset's job config. The benchmark's text length is <c>vlm.max_text_len</c> and its batch
    /// <c>train.batch_size</c>. The file is looked up beside the executable (the build and the GPU
    /// bundle copy config/ there), then under ./config.
    /// </summary>
    public static JobConfig Load(string preset)
    {
        var file = FileOf(preset);
        string[] candidates = [Path.Combine(AppContext.BaseDirectory, "config", file), Path.Combine("config", file)];
        var path = candidates.FirstOrDefault(File.Exists)
                   ?? throw new InvalidOperationException($"--preset {preset}: its config {file} is in neither {candidates[0]} nor {Path.GetFullPath(candidates[1])}");
        return JobConfigLoader.Load(path);
    }
}
