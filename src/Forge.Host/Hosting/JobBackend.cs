using Forge.Actors.Checkpointing;
using Forge.Actors.Checkpointing.Export;
using Forge.Actors.Cluster;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Supervision;
using Forge.Actors.Training;
using Forge.Host.Configuration;
using Forge.Host.Output;
using Forge.Model.Config;
using Forge.Model.Modeling;
using Forge.Model.Optim;
using Forge.Model.Pretrained;
using Forge.Model.Safetensors;
using Forge.Model.Text;
using Forge.Model.Training;
using static TorchSharp.torch;

namespace Forge.Host.Hosting;

/// <summary>
/// The host's calls into the job, node and checkpoint code of Forge.Actors and Forge.Model, in one
/// place. Everything else in Forge.Host (config, outputs, signals, commands) is written against the
/// contracts (TrainingJobOptions, ITrainingObserver, ICheckpointStore). The job's production
/// services (engine factory, collective backend, store) come from
/// <see cref="TrainingServices.ForJobAsync"/>, Forge.Actors' own integration point.
/// </summary>
internal static class JobBackend
{
    /// <summary>`forge train` / `forge resume`: supervisor plus local ranks in this process; with a cluster address, also the seed `forge node` processes join.</summary>
    public static async Task<JobFinished> RunLocalAsync(TrainingJobOptions options, ClusterAddress? cluster, ITrainingObserver observer, EventJournal journal, CancellationToken ct)
    {
        await using var services = await TrainingServices.ForJobAsync(cluster is null ? options : options with { Host = cluster.Host }, ct);
        var job = cluster is null ? services : services with { Cluster = new ClusterSeed(cluster.Host, cluster.Port) };
        using var mirror = MirrorJournal(journal, services.Store, options.Config.RunName);
        return await LocalTrainingJob.RunAsync(WithJobRecord(options), observer, job, ct);
    }

    /// <summary>
    /// `forge node`: lends ranks to the job at the seeds until the job ends or refuses them, or <paramref name="ct"/>
    /// fires; hosts the job's supervisor (and writes the run's outputs) when this process becomes the oldest.
    /// </summary>
    /// <param name="observerFor">Builds the node's observer, given how to mirror its journal into the store once it opens one.</param>
    public static async Task<JobNodeResult> RunNodeAsync(NodeLaunch launch, RunDirectory run, Func<Action<EventJournal>, ITrainingObserver> observerFor,
        CancellationToken ct)
    {
        var options = WithJobRecord(new TrainingJobOptions { Config = launch.Config, RunDirectory = run.Path, Resume = true, Host = launch.Host });
        await using var services = await TrainingServices.ForJobAsync(options, ct);
        var mirrors = new List<IDisposable>();
        var observer = observerFor(journal => { lock (mirrors) mirrors.Add(MirrorJournal(journal, services.Store, launch.Config.RunName)); });
        try
        {
            if (launch.MemoryOnly)
                return await LocalTrainingJob.RunNodeAsync(options, launch.Host, launch.Port, launch.Seeds, [], observer, services, ct,
                    memoryOnly: services.Replicas ?? throw new ArgumentException(
                        $"--memory-only holds buddy replicas, but elastic.replica_interval = {launch.Config.Elastic.ReplicaInterval} keeps none: expected 1 or more"));
            var devices = launch.Gpus.Count > 0 ? launch.Gpus : Enumerable.Repeat(-1, launch.CpuRanks).ToArray();
            return await LocalTrainingJob.RunNodeAsync(options, launch.Host, launch.Port, launch.Seeds, devices, observer, services, ct);
        }
        finally
        {
            lock (mirrors) foreach (var mirror in mirrors) mirror.Dispose();
            (observer as IDisposable)?.Dispose();
        }
    }

    /// <summary>The job record's config: this launch's, resolved, and how a supervisor that takes over parses it back.</summary>
    private static TrainingJobOptions WithJobRecord(TrainingJobOptions options) => options with
    {
        ResolvedConfig = JobConfigWriter.ToToml(options.Config),
        ParseConfig = toml => JobConfigLoader.Parse(toml, $"the job record of '{options.Config.RunName}'"),
    };

    /// <summary>Copies every journal entry into the job's event log in the store, in order, until disposed.</summary>
    private static IDisposable MirrorJournal(EventJournal journal, ICheckpointStore store, string jobId)
    {
        var pending = Task.CompletedTask;
        journal.Mirror = json =>
        {
            // Chained, so the store keeps the file's order; a store error costs the copy, never the job.
            pending = pending.ContinueWith(_ => store.AppendEventAsync(jobId, json), TaskScheduler.Default).Unwrap()
                .ContinueWith(t => { _ = t.Exception; }, TaskScheduler.Default);
        };
        return new Unmirror(() =>
        {
            journal.Mirror = null;
            pending.Wait(TimeSpan.FromSeconds(10));
        });
    }

    private sealed class Unmirror(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    /// <summary>
    /// What checkpoint.load_path will load into the configured model, read from the checkpoint's
    /// headers against a CPU build of the model (the ranks load it themselves); null without a load_path.
    /// </summary>
    /// <exception cref="InvalidDataException">A tensor of the checkpoint that does not fit the model, by name.</exception>
    public static WeightLoadReport? PlanPretrainedLoad(JobConfig config)
    {
        if (string.IsNullOrEmpty(config.Checkpoint.LoadPath)) return null;
        using var model = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        return PretrainedWeights.Plan(model, config.Checkpoint.LoadPath, config.Checkpoint.ExcludeFromLoading);
    }

    /// <summary>The run's checkpoint store: runs/&lt;run&gt;/checkpoints.db, or PostgreSQL per [checkpoint]. Release it with <see cref="CloseAsync"/>.</summary>
    public static async Task<ICheckpointStore> OpenCheckpointStoreAsync(JobConfig config, RunDirectory run, CancellationToken ct) =>
        await SqlCheckpointStore.OpenAsync(CheckpointStoreSettings.FromConfig(config.Checkpoint, run.Path), ct);

    /// <summary>Consolidates a committed checkpoint's shards into one safetensors file of model weights.</summary>
    public static Task ExportSafetensorsAsync(ICheckpointStore store, CheckpointManifest manifest, string path, string dtype, CancellationToken ct,
        IProgress<double>? progress = null) =>
        SafetensorsCheckpointExport.ExportAsync(store, manifest, path, ExportDType.Parse(dtype), ct, progress);

    /// <summary>
    /// `--format hf`: the checkpoint's text model as a Hugging Face LlamaForCausalLM directory
    /// (model.safetensors under HF names, config.json from [model], and the run's tokenizer.json when
    /// data.tokenizer is one). The cross-attention blocks,
    /// adapter and vision encoder have no place in LlamaForCausalLM and are left out.
    /// </summary>
    /// <returns>How many tensors were written, and how many of the checkpoint's were left out.</returns>
    /// <exception cref="InvalidOperationException">A text parameter the checkpoint lacks (frozen for the whole run, so never checkpointed).</exception>
    public static async Task<(int Written, int LeftOut)> ExportHfLlamaAsync(ICheckpointStore store, CheckpointManifest manifest, JobConfig config,
        string directory, string dtype, CancellationToken ct, IProgress<double>? progress = null)
    {
        var inCheckpoint = manifest.Layout.Parameters.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var missing = HfLlamaNames.TextModelNames(config.Model.NLayers).Where(n => !inCheckpoint.Contains(n)).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException(
                $"the checkpoint at step {manifest.Step} lacks {missing.Count} text-model parameter(s) that LlamaForCausalLM needs " +
                $"({string.Join(", ", WeightLoadReport.Fold(missing))}): parameters frozen for the whole run are not checkpointed; they are still checkpoint.load_path's");
        Directory.CreateDirectory(directory);
        var written = await SafetensorsCheckpointExport.ExportAsync(store, manifest, Path.Combine(directory, SafetensorsCheckpoint.SingleFileName),
            ExportDType.Parse(dtype), ct, progress, HfLlamaNames.ToHf);
        int? bos = null, eos = null, pad = null;
        if (HfTokenizer.IsPath(config.Data.Tokenizer))
        {
            // The run's own tokenizer travels with the model, as an HF model directory has it.
            var tokenizer = (HfTokenizer)TokenizerCatalog.Create(config.Data.Tokenizer);
            (bos, eos, pad) = (tokenizer.BosId, tokenizer.EosId, tokenizer.PadId);
            var source = Directory.Exists(config.Data.Tokenizer) ? config.Data.Tokenizer : Path.GetDirectoryName(Path.GetFullPath(config.Data.Tokenizer))!;
            File.Copy(Directory.Exists(config.Data.Tokenizer) ? Path.Combine(source, HfTokenizer.FileName) : config.Data.Tokenizer,
                Path.Combine(directory, HfTokenizer.FileName), overwrite: true);
            var tokenizerConfig = Path.Combine(source, HfTokenizer.ConfigFileName);
            if (File.Exists(tokenizerConfig)) File.Copy(tokenizerConfig, Path.Combine(directory, HfTokenizer.ConfigFileName), overwrite: true);
        }
        HfLlamaConfig.Write(config.Model, directory, dtype == "float32" ? "float32" : "bfloat16", bos, eos, pad);
        return (written.Count, manifest.Layout.Parameters.Count - written.Count);
    }

    /// <summary>
    /// Commits a safetensors file's weights as the run's step-0 checkpoint of a one-rank world
    /// (fresh optimizer moments); resuming reshards it to any world. The layout comes from building
    /// the configured model on the CPU, so a file for another model is rejected by name and shape.
    /// </summary>
    public static async Task<CheckpointManifest> ImportSafetensorsAsync(ICheckpointStore store, JobConfig config, string path, CancellationToken ct)
    {
        FlatLayoutInfo layout;
        IReadOnlyList<string> frozen;
        using (var model = VlmRegistry.Build(config, CPU, ScalarType.Float32))
        {
            // The layout a run of this config trains (every parameter trained in any freeze stage).
            var stages = FreezeStages.Of(model);
            layout = FlatParameterLayout.For(model.Module, worldSize: 1, stages.LayoutNames).Info;
            frozen = model.Module.named_parameters().Where(p => !p.parameter.requires_grad).Select(p => p.name).ToList();
        }
        var shard = SafetensorsShardImport.LoadShard(path, layout, ShardRange.For(layout.PaddedNumel, 0, 1));
        var receipt = await store.SaveShardAsync(config.RunName, 0, 0, shard, ct);
        var manifest = new CheckpointManifest
        {
            JobId = config.RunName, Step = 0, WorldSize = 1, Layout = layout, Shards = [receipt],
            DataEpoch = 0, DataPosition = 0, SamplesConsumed = 0, RngSeed = config.Train.Seed, SchedulerStep = 0,
            FrozenParameters = frozen,
            // The run's own hash, as the supervisor stamps its manifests: a resume under another model config is refused.
            ModelConfigHash = JobSupervisorSettings.ModelHash(config),
            CommittedAt = DateTimeOffset.UtcNow,
        };
        await store.CommitAsync(manifest, ct);
        return manifest;
    }

    /// <summary>Releases a store from <see cref="OpenCheckpointStoreAsync"/>.</summary>
    public static async ValueTask CloseAsync(ICheckpointStore store)
    {
        if (store is IAsyncDisposable asyncDisposable) await asyncDisposable.DisposeAsync();
        else (store as IDisposable)?.Dispose();
    }
}
