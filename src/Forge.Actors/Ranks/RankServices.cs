using Forge.Actors.Checkpointing;
using Forge.Actors.Protocol;
using Forge.Model.Distributed;

namespace Forge.Actors.Ranks;

/// <summary>What one rank actor needs from its process: engine, collectives, store and its device.</summary>
public sealed record RankServices
{
    public required IRankEngineFactory Engines { get; init; }
    public required ICollectiveBackend Backend { get; init; }
    public required ICheckpointStore Store { get; init; }
    /// <summary>The process's buddy replicas and their channel (shared by its ranks), or null when it keeps none.</summary>
    public Replication.ReplicaServer? Replicas { get; init; }
    /// <summary>GPU index on this node, or -1 for a CPU rank.</summary>
    public int Device { get; init; } = -1;
    /// <summary>Names the node in logs and registrations (the machine name: the supervisor compares it with its own).</summary>
    public string Node { get; init; } = Environment.MachineName;
    /// <summary>The job this rank's config trains (run_name), sent with its registration; empty when unknown.</summary>
    public string JobId { get; init; } = "";
    /// <summary>The model-config hash of this rank's config, sent with its registration; empty when unknown.</summary>
    public string ModelConfigHash { get; init; } = "";
    /// <summary>
    /// How long joining a collective group may take before the rank reports failure: half of
    /// distributed.form_timeout_sec, so a join whose peer died fails before the supervisor gives up on this rank.
    /// </summary>
    public TimeSpan JoinTimeout { get; init; } = JoinTimeoutFor(new Forge.Model.Config.DistributedConfig());

    /// <summary>Half of distributed.form_timeout_sec.</summary>
    public static TimeSpan JoinTimeoutFor(Forge.Model.Config.DistributedConfig distributed) => TimeSpan.FromSeconds(distributed.FormTimeoutSec / 2.0);
    /// <summary>
    /// Starts the rank's thread, given its name and what prepares it (binds the device). Every process runs a
    /// dedicated <see cref="RankThread"/>; only the supervisor benchmark, whose thousands of simulated ranks would
    /// each wake on their own host, gives a pooled one.
    /// </summary>
    public Func<string, Action, IRankThread> StartThread { get; init; } = (name, prepare) => new RankThread(name, prepare);
    /// <summary>How often an unregistered rank repeats its registration (see <see cref="ElasticTimings.RegisterRetry"/>).</summary>
    public TimeSpan RegisterRetry { get; init; } = ElasticTimings.RegisterRetry;
}
