using Forge.Actors.Protocol;
using Forge.Model.Config;

namespace Forge.Actors.Training;

/// <summary>
/// What the host hands a local training job (`forge train` / `forge resume`): the validated config,
/// the run directory (runs/&lt;run-name&gt;/, which holds the SQLite checkpoint store), the number of
/// local ranks (0 = all visible GPUs, else that many CPU ranks when no GPU) and whether to resume
/// from the latest committed checkpoint.
/// Entry point (Forge.Actors.Training.LocalTrainingJob):
/// <c>Task&lt;JobFinished&gt; RunAsync(TrainingJobOptions options, ITrainingObserver observer, CancellationToken ct)</c>;
/// cancelling <c>ct</c> (SIGINT/SIGTERM) finishes the current step, writes a checkpoint and returns.
/// </summary>
public sealed record TrainingJobOptions
{
    public required JobConfig Config { get; init; }
    public required string RunDirectory { get; init; }
    public int Ranks { get; init; }
    public bool Resume { get; init; }
    /// <summary>
    /// A cluster seed that trains nothing (`forge train --cluster-port P --memory-only`): it hosts the supervisor and
    /// holds the ranks' buddy replicas, so a one-GPU `forge node` that dies is restored from this process's memory.
    /// </summary>
    public bool MemoryOnly { get; init; }
    /// <summary>
    /// The address this process's sockets bind to and advertise (the CPU data plane's listeners; remoting
    /// binds the cluster's own host): loopback for a single-machine job, the `--host` of a cluster node.
    /// </summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>The config as TOML with every default filled in: what the job record in the store keeps for supervisors that take over.</summary>
    public string ResolvedConfig { get; init; } = "";
    /// <summary>The host's TOML parser (the actors read no TOML): how a supervisor that takes over reads the job record's config.</summary>
    public Func<string, JobConfig>? ParseConfig { get; init; }
}
