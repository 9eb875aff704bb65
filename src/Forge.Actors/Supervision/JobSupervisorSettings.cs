using Forge.Actors.Checkpointing;
using Forge.Actors.Protocol;
using Forge.Model.Config;
using Forge.Model.Data;

namespace Forge.Actors.Supervision;

/// <summary>
/// The supervisor's policy and the job facts it writes into manifests. The defaults are the config
/// records' (<see cref="FromConfig"/> is the product path); fixed waits are <see cref="ElasticTimings"/>.
/// </summary>
public sealed record JobSupervisorSettings
{
    private static readonly TrainConfig TrainDefaults = new();
    private static readonly CheckpointConfig CheckpointDefaults = new();
    private static readonly ElasticConfig ElasticDefaults = new();
    private static readonly DistributedConfig DistributedDefaults = new();

    public required string JobId { get; init; }
    /// <summary>Total optimizer steps of the job; the job is complete after step MaxSteps-1.</summary>
    public required long MaxSteps { get; init; }
    /// <summary>Checkpoint after every Interval completed steps (0: only at the end and on stop).</summary>
    public long CheckpointInterval { get; init; } = CheckpointDefaults.Interval;
    public int MinRanks { get; init; } = ElasticDefaults.MinRanks;
    /// <summary>0 means no upper bound.</summary>
    public int MaxRanks { get; init; } = ElasticDefaults.MaxRanks;
    public int MaxRestarts { get; init; } = ElasticDefaults.MaxRestarts;
    /// <summary>elastic.replica_interval: copy every shard into a buddy's memory after every this many steps (0: never).</summary>
    public int ReplicaInterval { get; init; } = ElasticDefaults.ReplicaInterval;
    /// <summary>elastic.replica_max_overhead: the share of training time copy captures may hold steps for (0: no bound).</summary>
    public double ReplicaMaxOverhead { get; init; } = ElasticDefaults.ReplicaMaxOverhead;
    /// <summary>train.global_batch_size: samples per optimizer step; 0 = <see cref="BatchSize"/> × the first world's size.</summary>
    public int GlobalBatchSize { get; init; } = TrainDefaults.GlobalBatchSize;
    /// <summary>train.batch_size, the per-rank micro-batch (resolves a global batch size of 0).</summary>
    public int BatchSize { get; init; } = TrainDefaults.BatchSize;
    /// <summary>train.max_bad_steps: skipped (diverged) steps in a row after which the job stops.</summary>
    public int MaxBadSteps { get; init; } = TrainDefaults.MaxBadSteps;
    /// <summary>
    /// Ranks the launch itself starts (a single-process job's local ranks): the first formation waits
    /// for all of them; later ones (after a loss) go on with whoever is left. 0 when unknown (cluster
    /// nodes come and go); then min/max and the settle window decide.
    /// </summary>
    public int ExpectedRanks { get; init; }
    /// <summary>How long forming (and each re-forming) may wait for ranks, group creation and joins.</summary>
    public TimeSpan FormTimeout { get; init; } = TimeSpan.FromSeconds(DistributedDefaults.FormTimeoutSec);
    /// <summary>A rank that has not reported a step within this time is declared lost.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromSeconds(DistributedDefaults.StepTimeoutSec);
    /// <summary>Once min ranks are there (and max is not reached), wait this long for more before forming.</summary>
    public TimeSpan FormationSettle { get; init; } = ElasticTimings.LaunchSettle;
    /// <summary>How long a live rank may take to acknowledge an abort before it counts as dead (distributed.abort_timeout_sec).</summary>
    public TimeSpan AbortTimeout { get; init; } = TimeSpan.FromSeconds(DistributedDefaults.AbortTimeoutSec);
    /// <summary>
    /// True when the checkpoint store lives on this machine only (a SQLite file): ranks on other machines
    /// would write their shards where no other rank can read them, so their registrations are refused.
    /// </summary>
    public bool StoreIsMachineLocal { get; init; }
    /// <summary>This machine's name, compared with each registration's node.</summary>
    public string Machine { get; init; } = Environment.MachineName;
    /// <summary>How long Done waits for the ranks to stop before reporting anyway.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = ElasticTimings.Shutdown;
    /// <summary>The committed checkpoint to resume from (forge resume), or null to start fresh.</summary>
    public CheckpointManifest? ResumeFrom { get; init; }

    // Manifest facts the supervisor cannot know from rank reports.
    public long RngSeed { get; init; }
    public string ModelConfigHash { get; init; } = "";
    public IReadOnlyList<string> FrozenParameters { get; init; } = [];
    /// <summary>The data cursor after N completed steps at a global batch size (IBatchSource.CursorAfter); null records samples only.</summary>
    public Func<long, int, DataCursor>? DataCursorAfter { get; init; }
    /// <summary>What to tell the user when a job stops before MaxSteps with a checkpoint at the given step.</summary>
    public Func<long, string> ResumeHint { get; init; } = step => $"resume from the checkpoint at step {step} with `forge resume`";

    /// <summary>The settings of `config` ([train], [checkpoint], [distributed], [elastic]).</summary>
    public static JobSupervisorSettings FromConfig(JobConfig config) => new()
    {
        JobId = config.RunName,
        MaxSteps = config.Train.MaxSteps,
        CheckpointInterval = config.Checkpoint.Interval,
        MinRanks = config.Elastic.MinRanks,
        MaxRanks = config.Elastic.MaxRanks,
        MaxRestarts = config.Elastic.MaxRestarts,
        ReplicaInterval = config.Elastic.ReplicaInterval,
        ReplicaMaxOverhead = config.Elastic.ReplicaMaxOverhead,
        GlobalBatchSize = config.Train.GlobalBatchSize,
        BatchSize = config.Train.BatchSize,
        MaxBadSteps = config.Train.MaxBadSteps,
        FormTimeout = TimeSpan.FromSeconds(config.Distributed.FormTimeoutSec),
        StepTimeout = TimeSpan.FromSeconds(config.Distributed.StepTimeoutSec),
        AbortTimeout = TimeSpan.FromSeconds(config.Distributed.AbortTimeoutSec),
        RngSeed = config.Train.Seed,
        ModelConfigHash = ModelHash(config),
        StoreIsMachineLocal = config.Checkpoint.Store == CheckpointConfig.Sqlite,
    };

    /// <summary>The hash of the sections that decide the flat layout: a checkpoint only fits a model with the same hash.</summary>
    public static string ModelHash(JobConfig config) =>
        CheckpointCompatibility.HashOf(config.Model, config.VisionEncoder, config.Adapter, config.Vlm);
}
