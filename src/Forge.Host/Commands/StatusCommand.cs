using System.CommandLine;
using System.Globalization;
using Forge.Actors.Checkpointing;
using Forge.Host.Configuration;
using Forge.Host.Hosting;
using Forge.Host.Output;
using Forge.Model.Config;
using Spectre.Console;

namespace Forge.Host.Commands;

/// <summary>`forge status runs/name`: where a run stands, from its files and checkpoint store.</summary>
public static class StatusCommand
{
    private const int JournalLines = 12;

    public static Command Create()
    {
        var runDir = CommonOptions.RunDirectory();
        var command = new Command("status",
            "Show a run's state, world size, step, loss, throughput, last checkpoint and recent journal events " +
            "(from metrics.jsonl, events.jsonl and the checkpoint store).")
        {
            runDir,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(runDir)!, ForgeConsole.Create(), ct));
        return command;
    }

    internal static async Task<int> RunAsync(string runPath, IAnsiConsole console, CancellationToken ct = default)
    {
        var run = new RunDirectory(runPath);
        if (!run.Exists) return CommandReport.Error(console, $"{runPath}: no such run directory");

        var metrics = MetricsLog.Read(run.Metrics);
        // The store's copy holds every process's entries (a supervisor that took over writes its own run
        // directory): the longer history wins.
        var journal = JournalEntry.ReadAll(run.Events);
        var (store, storeProblem) = await ReadStoreAsync(run, ct);
        var fromStore = store is not null && store.Journal.Count > journal.Count;
        if (fromStore) journal = store!.Journal;
        var lastStep = metrics.LastOrDefault(p => p.Loss is not null);
        var lastEval = metrics.LastOrDefault(p => p.EvalLoss is not null);
        var lastArtEval = metrics.LastOrDefault(p => p.EvalArtLoss is not null);
        var lastScores = metrics.LastOrDefault(p => p.HasCaptionScores);
        var firstStep = metrics.FirstOrDefault(p => p.Loss is not null);
        var started = journal.LastOrDefault(e => e.Event is "job_started" or "job_resumed");

        var table = new Table().HideHeaders().Border(TableBorder.None).AddColumn("").AddColumn("");
        void Row(string name, string value) => table.AddRow($"[bold]{name}[/]", Markup.Escape(value));

        Row("run", run.Path);
        Row("state", State(journal, run));
        Row("world", (lastStep?.WorldSize ?? (int?)started?.Integer("world_size")) is { } world ? $"{world} rank(s)" : "unknown");
        var maxSteps = started?.Integer("max_steps");
        Row("step", lastStep is null ? "none logged yet" : maxSteps is null ? $"{lastStep.Step}" : $"{lastStep.Step} / {maxSteps}");
        if (lastStep?.Loss is { } loss)
            Row("loss", string.Create(CultureInfo.InvariantCulture, $"{loss:F4} (first logged {firstStep!.Loss:F4} at step {firstStep.Step})"));
        if (lastEval?.EvalLoss is { } evalLoss)
            Row("eval loss", string.Create(CultureInfo.InvariantCulture, $"{evalLoss:F4} at step {lastEval.Step}"));
        if (lastArtEval?.EvalArtLoss is { } artLoss)
            Row("unseen-art loss", string.Create(CultureInfo.InvariantCulture, $"{artLoss:F4} at step {lastArtEval.Step}"));
        if (lastScores is not null)
            Row("captions", CaptionScoresText(lastScores));
        if (lastStep?.TokensPerSecond is { } rate) Row("throughput", ProgressText.Rate(rate));
        Row("checkpoint", LastCheckpoint(store, storeProblem, journal));
        console.Write(table);

        if (journal.Count > 0)
        {
            console.WriteLine();
            console.MarkupLine(fromStore
                ? $"[bold]journal[/] (the {Markup.Escape(store!.Location)}, latest last)"
                : "[bold]journal[/] (events.jsonl, latest last)");
            foreach (var e in journal.TakeLast(JournalLines))
                console.MarkupLine($"  {e.Time:yyyy-MM-dd HH:mm:ss}  {Markup.Escape(e.Event),-16} {Markup.Escape(e.Details())}");
        }
        return 0;
    }

    private static string CaptionScoresText(MetricsPoint p)
    {
        var parts = new List<string>();
        if (p.EvalArtExactMatch is { } artExact)
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"unseen art {artExact * 100:F0}% exact, similarity {p.EvalArtSimilarity:F2}"));
        if (p.EvalExactMatch is { } exact)
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"unseen names {exact * 100:F0}% exact, similarity {p.EvalSimilarity:F2}"));
        return $"{string.Join("; ", parts)} at step {p.Step}";
    }

    private static string State(IReadOnlyList<JournalEntry> journal, RunDirectory run)
    {
        var last = journal.LastOrDefault(e => e.Event is "job_started" or "job_resumed" or "job_finished" or "job_failed" or "job_not_started");
        return last switch
        {
            null when File.Exists(run.Metrics) => "unknown (metrics but no events.jsonl)",
            null => "not started",
            { Event: "job_finished" } f when f.Text("error") is { } error => $"failed at step {f.Integer("final_step")}: {error}",
            { Event: "job_finished" } f when f.Fields.TryGetValue("completed", out var c) && c.GetBoolean() => $"finished at step {f.Integer("final_step")}",
            { Event: "job_finished" } f => $"stopped at step {f.Integer("final_step")}; continue with: {JobSession.ResumeHint(run)}",
            { Event: "job_failed" or "job_not_started" } f => $"failed to run: {f.Text("text")}",
            _ => $"running since {last.Time:yyyy-MM-dd HH:mm:ss} (or ended without writing its journal)",
        };
    }

    /// <summary>What the run's store holds for `forge status`: where it is, its copy of the journal and the newest committed checkpoint.</summary>
    private sealed record StoreView(string Location, IReadOnlyList<JournalEntry> Journal, CheckpointManifest? Latest);

    /// <summary>
    /// The run's store, opened once; no view and no problem when the run has no store to read (no resolved
    /// config, or a SQLite file that was never made: opening it would create one), a problem when it cannot be read.
    /// </summary>
    private static async Task<(StoreView? View, string? Problem)> ReadStoreAsync(RunDirectory run, CancellationToken ct)
    {
        if (!File.Exists(run.ResolvedConfig)) return (null, null);
        try
        {
            var config = JobConfigLoader.Load(run.ResolvedConfig);
            if (config.Checkpoint.Store == CheckpointConfig.Sqlite && config.Checkpoint.ConnectionString.Length == 0 && !File.Exists(run.CheckpointDatabase))
                return (null, null);
            var store = await JobBackend.OpenCheckpointStoreAsync(config, run, ct);
            try
            {
                var journal = JournalEntry.Parse(await store.ReadEventsAsync(config.RunName, ct));
                return (new StoreView(store.Location, journal, await store.LatestAsync(config.RunName, ct)), null);
            }
            finally
            {
                await JobBackend.CloseAsync(store);
            }
        }
        catch (ConfigException e)
        {
            return (null, $"unknown: {e.Errors[0]}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An unreachable PostgreSQL or a damaged file: the journal still knows what was committed.
            return (null, $"store unreadable ({e.Message})");
        }
    }

    /// <summary>The store's newest committed manifest; the journal's last checkpoint when the run has no store to read.</summary>
    private static string LastCheckpoint(StoreView? store, string? problem, IReadOnlyList<JournalEntry> journal)
    {
        if (store is not null) return store.Latest is null ? "none committed" : Describe(store.Latest);
        var last = journal.LastOrDefault(e => e.Event == "checkpoint");
        if (problem is not null)
            return problem.StartsWith("unknown", StringComparison.Ordinal)
                ? problem
                : $"{problem}; journal: " + (last is null ? "none" : $"step {last.Integer("step")}");
        return last is null
            ? "none in the journal"
            : $"step {last.Integer("step")} at {last.Time:yyyy-MM-dd HH:mm:ss} (from the journal)";
    }

    private static string Describe(CheckpointManifest m) =>
        $"step {m.Step}, {m.WorldSize} shard(s), {m.Layout.Numel:N0} parameters, committed {m.CommittedAt:yyyy-MM-dd HH:mm:ss}";
}
