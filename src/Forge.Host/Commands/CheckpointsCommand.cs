using System.CommandLine;
using Forge.Actors.Checkpointing;
using Forge.Host.Configuration;
using Forge.Host.Hosting;
using Forge.Host.Output;
using Forge.Model.Config;
using Spectre.Console;

namespace Forge.Host.Commands;

/// <summary>`forge checkpoints list|export|import`: a run's committed checkpoints and safetensors exchange.</summary>
public static class CheckpointsCommand
{
    public static Command Create()
    {
        var command = new Command("checkpoints", "List a run's committed checkpoints, export one as safetensors, or import safetensors weights.");
        command.Subcommands.Add(List());
        command.Subcommands.Add(Export());
        command.Subcommands.Add(Import());
        return command;
    }

    private static Command List()
    {
        var runDir = CommonOptions.RunDirectory();
        var command = new Command("list", "List committed checkpoints, oldest first: step, world size, shards, size.") { runDir };
        command.SetAction((parse, ct) => WithStore(parse.GetValue(runDir)!, ForgeConsole.Create(), ct, async (store, config, console) =>
        {
            var (manifests, unreadable) = await store.ListWithUnreadableAsync(config.RunName, ct);
            if (manifests.Count == 0 && unreadable.Count == 0)
            {
                console.MarkupLine("no committed checkpoints");
                return 0;
            }
            var table = new Table().AddColumns("step", "world", "parameters", "stored", "committed");
            foreach (var m in manifests)
                table.AddRow($"{m.Step}", $"{m.WorldSize}", $"{m.Layout.Numel:N0}",
                    $"{m.Shards.Sum(s => s.Chunks.Sum(c => c.Bytes)) / (1024.0 * 1024.0):F1} MiB", $"{m.CommittedAt:yyyy-MM-dd HH:mm:ss}");
            console.Write(table);
            // Damaged manifests are listed, not hidden: resume passes over them to the newest readable one.
            foreach (var damaged in unreadable)
                console.MarkupLine($"[red]step {damaged.Step}: unreadable[/] ({Markup.Escape(damaged.Message)})");
            return unreadable.Count > 0 ? 1 : 0;
        }));
        return command;
    }

    private static Command Export()
    {
        var runDir = CommonOptions.RunDirectory();
        var step = new Option<long?>("--step") { Description = "Checkpoint step (default: the latest committed)" };
        var output = new Option<string?>("--output", "-o") { Description = "safetensors path (default: <run-dir>/step-<step>.safetensors)" };
        var dtype = new Option<string?>("--dtype") { Description = "bfloat16 or float32 (default: checkpoint.export_dtype)" };
        dtype.AcceptOnlyFromAmong([.. CheckpointConfig.ExportDtypes]);
        var format = new Option<string>("--format")
        {
            Description = "safetensors (one file, this project's names) or hf (a Hugging Face LlamaForCausalLM directory of the text model)",
            DefaultValueFactory = _ => "safetensors",
        };
        format.AcceptOnlyFromAmong("safetensors", "hf");
        var command = new Command("export", "Consolidate a committed checkpoint's shards into one safetensors file of model weights, or a Hugging Face model directory.")
        {
            runDir, step, output, dtype, format,
        };
        command.SetAction((parse, ct) => WithStore(parse.GetValue(runDir)!, ForgeConsole.Create(), ct, async (store, config, console) =>
        {
            var manifests = await store.ListAsync(config.RunName, ct);
            var wanted = parse.GetValue(step);
            var manifest = wanted is null ? manifests.LastOrDefault() : manifests.FirstOrDefault(m => m.Step == wanted);
            if (manifest is null)
                return CommandReport.Error(console, wanted is null
                    ? "no committed checkpoints to export"
                    : $"no committed checkpoint at step {wanted}; committed: {string.Join(", ", manifests.Select(m => m.Step))}");
            var hf = parse.GetValue(format) == "hf";
            var path = parse.GetValue(output) ?? Path.Combine(parse.GetValue(runDir)!, hf ? $"hf-step-{manifest.Step}" : $"step-{manifest.Step}.safetensors");
            var exportDtype = parse.GetValue(dtype) ?? config.Checkpoint.ExportDtype;
            // A plain line per tenth read: large models take tens of seconds, and the lines suit logs too.
            var reported = 0;
            var progress = new SynchronousProgress(fraction =>
            {
                var tenth = (int)Math.Floor(fraction * 10);
                if (tenth <= reported || tenth >= 10) return;
                reported = tenth;
                console.MarkupLine($"export: {tenth * 10}% of the weights read");
            });
            if (hf)
            {
                var (written, leftOut) = await JobBackend.ExportHfLlamaAsync(store, manifest, config, path, exportDtype, ct, progress);
                console.MarkupLine($"wrote {Markup.Escape(path)}/: LlamaForCausalLM config.json and model.safetensors, {written} tensors ({exportDtype}) from step {manifest.Step}" +
                                   (leftOut > 0 ? $"; left out {leftOut} cross-attention, adapter and vision tensor(s), which LlamaForCausalLM has no place for" : ""));
                return 0;
            }
            await JobBackend.ExportSafetensorsAsync(store, manifest, path, exportDtype, ct, progress);
            console.MarkupLine($"wrote {Markup.Escape(path)}: {manifest.Layout.Parameters.Count} tensors ({exportDtype}) from step {manifest.Step}");
            return 0;
        }));
        return command;
    }

    private static Command Import()
    {
        var runDir = CommonOptions.RunDirectory();
        var weights = new Argument<string>("weights") { Description = "safetensors file whose tensor names match the run's model" };
        var command = new Command("import",
            "Commit safetensors weights as the run's step-0 checkpoint (fresh optimizer state), so `forge resume` starts from them.")
        {
            runDir, weights,
        };
        command.SetAction((parse, ct) => WithStore(parse.GetValue(runDir)!, ForgeConsole.Create(), ct, async (store, config, console) =>
        {
            var path = parse.GetValue(weights)!;
            if (!File.Exists(path)) return CommandReport.Error(console, $"{path}: no such file");
            var manifest = await JobBackend.ImportSafetensorsAsync(store, config, path, ct);
            console.MarkupLine($"committed {Markup.Escape(path)} as step {manifest.Step} ({manifest.Layout.Numel:N0} parameters)");
            return 0;
        }));
        return command;
    }

    private static async Task<int> WithStore(string runPath, IAnsiConsole console, CancellationToken ct,
        Func<ICheckpointStore, JobConfig, IAnsiConsole, Task<int>> action)
    {
        var run = new RunDirectory(runPath);
        if (!File.Exists(run.ResolvedConfig))
            return CommandReport.Error(console, $"{runPath} is not a run directory: {run.ResolvedConfig} does not exist");
        try
        {
            var config = JobConfigLoader.Load(run.ResolvedConfig);
            var store = await JobBackend.OpenCheckpointStoreAsync(config, run, ct);
            try
            {
                return await action(store, config, console);
            }
            finally
            {
                await JobBackend.CloseAsync(store);
            }
        }
        catch (ConfigException e)
        {
            return CommandReport.ConfigFailed(console, e);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A missing or damaged store, a file for another model: the store and importer say which.
            return CommandReport.Error(console, e.Message, CommandReport.Failed);
        }
    }

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool and could print after the result line).</summary>
    private sealed class SynchronousProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
