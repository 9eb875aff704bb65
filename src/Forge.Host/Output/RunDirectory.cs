namespace Forge.Host.Output;

/// <summary>
/// The files of one run, runs/&lt;run-name&gt;/: what `forge train` writes and what `forge status`,
/// `forge plot` and `forge resume` read back.
/// </summary>
public sealed record RunDirectory(string Path)
{
    public static RunDirectory For(string runsRoot, string runName) => new(System.IO.Path.Combine(runsRoot, runName));

    public string ResolvedConfig => Combine("config.resolved.toml");
    public string Metrics => Combine("metrics.jsonl");
    public string Events => Combine("events.jsonl");
    public string TensorBoard => Combine("tensorboard");
    public string Plot => Combine("plot.png");
    public string Captions => Combine("captions.jsonl");
    public string CaptionSheet => Combine("captions.png");
    public string CheckpointDatabase => Combine("checkpoints.db");

    public bool Exists => Directory.Exists(Path);

    public void Create() => Directory.CreateDirectory(Path);

    /// <summary>Whether an earlier run left files here.</summary>
    public bool HoldsRun => Exists && Directory.EnumerateFileSystemEntries(Path).Any();

    /// <summary>
    /// Moves an earlier run aside to &lt;path&gt;.&lt;yyyyMMdd-HHmmss&gt; (its last change) and returns
    /// where it went, so training the same config again starts fresh without destroying anything.
    /// </summary>
    public string ArchiveExisting()
    {
        var stamp = Directory.GetLastWriteTimeUtc(Path).ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture);
        var target = $"{Path.TrimEnd('/', '\\')}.{stamp}";
        for (var n = 2; Directory.Exists(target); n++) target = $"{Path.TrimEnd('/', '\\')}.{stamp}-{n}";
        Directory.Move(Path, target);
        return target;
    }

    private string Combine(string name) => System.IO.Path.Combine(Path, name);
}
