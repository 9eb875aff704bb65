using Forge.Actors.Checkpointing;
using Forge.Actors.Collectives;
using TorchSharp;
using Forge.Actors.Ranks;
using Forge.Actors.Replication;
using Forge.Model.Config;
using Forge.Model.Data;
using Forge.Model.Distributed;
using Forge.Model.Evaluation;
using Forge.Model.Runtime;

namespace Forge.Actors.Training;

/// <summary>
/// The implementations a training job runs on: the one seam between the actors and the numeric
/// engine, the collective backend and the checkpoint store. The host builds it once per process.
/// </summary>
public sealed record TrainingServices : IAsyncDisposable
{
    public required IRankEngineFactory Engines { get; init; }
    /// <summary>The collective backend of CPU ranks (and of every rank unless <see cref="BackendForDevice"/> is set).</summary>
    public required ICollectiveBackend Backend { get; init; }
    /// <summary>Per-device backends: NCCL binds a communicator to one GPU, so each GPU rank needs its own.</summary>
    public Func<int, ICollectiveBackend>? BackendForDevice { get; init; }
    public required ICheckpointStore Store { get; init; }
    /// <summary>The process's buddy replicas (elastic.replica_interval > 0), shared by its ranks; null keeps none.</summary>
    public ReplicaServer? Replicas { get; init; }
    /// <summary>The data cursor after N completed steps at a global batch size, recorded in manifests.</summary>
    public Func<long, int, DataCursor>? DataCursorAfter { get; init; }
    /// <summary>Visible CUDA devices; `ranks = 0` runs one rank per device.</summary>
    public Func<int> CudaDeviceCount { get; init; } = () => TorchRuntime.Probe().CudaDevices.Count;
    /// <summary>When set, the job's process is also the seed of a cluster that `forge node` processes join.</summary>
    public ClusterSeed? Cluster { get; init; }

    public RankServices ForRank(int device) => new()
    {
        Engines = Engines,
        Backend = BackendForDevice?.Invoke(device) ?? Backend,
        Store = Store,
        Replicas = Replicas,
        Device = device,
        JobId = JobId,
        ModelConfigHash = ModelConfigHash,
        JoinTimeout = JoinTimeout,
    };

    /// <summary>How long a rank's collective join may take: half of distributed.form_timeout_sec (see <see cref="RankServices.JoinTimeout"/>).</summary>
    public TimeSpan JoinTimeout { get; init; } = RankServices.JoinTimeoutFor(new DistributedConfig());

    /// <summary>The job the config trains and its model-config hash, which each rank registers with.</summary>
    public string JobId { get; init; } = "";
    public string ModelConfigHash { get; init; } = "";

    /// <summary>Things the services own and must release when the job ends (data loaders, the store).</summary>
    public IReadOnlyList<object> Owned { get; init; } = [];

    /// <summary>
    /// The production wiring of a job: the configured VLM on <see cref="ShardedRankEngine"/>, the
    /// prefetching batch source over data.manifest, the held-out sets of data.eval_manifest and
    /// data.unseen_art_manifest (opened once, shared by the process's ranks), NCCL for GPU ranks and the TCP data plane for
    /// CPU ranks ([distributed] backend), and the SQL checkpoint store ([checkpoint] store) in the
    /// run directory.
    /// </summary>
    public static async Task<TrainingServices> ForJobAsync(TrainingJobOptions options, CancellationToken ct = default)
    {
        var config = options.Config;
        var heldOut = HeldOutTests.UnseenNames(config);
        var unseenArt = HeldOutTests.UnseenArt(config);
        // The global batch size is the supervisor's to fix (with the first world): sources are made per size.
        var data = BatchSources.Open(config);
        try
        {
            var store = await SqlCheckpointStore.OpenAsync(CheckpointStoreSettings.FromConfig(config.Checkpoint, options.RunDirectory), ct)
                .ConfigureAwait(false);
            // One replica channel per process: a node's ranks share it, and it outlives each of their worlds.
            var replicas = config.Elastic.ReplicaInterval > 0 ? new ReplicaServer(new ReplicaStore(), options.Host) : null;
            return new TrainingServices
            {
                Engines = new VisionLanguageEngineFactory(config, data, heldOut, unseenArt),
                Backend = CollectiveBackends.For(config.Distributed, torch.CPU, options.Host),
                BackendForDevice = device => device < 0
                    ? CollectiveBackends.For(config.Distributed, torch.CPU, options.Host)
                    : CollectiveBackends.For(config.Distributed, torch.device(DeviceType.CUDA, device), options.Host),
                Store = store,
                Replicas = replicas,
                DataCursorAfter = data.CursorAfter,
                Owned = replicas is null ? [store, data] : [store, data, replicas.Store, replicas],
                JobId = config.RunName,
                JoinTimeout = RankServices.JoinTimeoutFor(config.Distributed),
                ModelConfigHash = Supervision.JobSupervisorSettings.ModelHash(config),
            };
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }


    public async ValueTask DisposeAsync()
    {
        foreach (var owned in Owned.Reverse())
        {
            if (owned is IAsyncDisposable asyncDisposable) await asyncDisposable.DisposeAsync().ConfigureAwait(false);
            else if (owned is IDisposable disposable) disposable.Dispose();
        }
    }
}

/// <summary>The seed node's own address: other nodes join it and register their ranks with its supervisor.</summary>
public sealed record ClusterSeed(string Host, int Port);
