using Akka.Actor;
using Forge.Actors.Checkpointing;
using Forge.Actors.Cluster;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Replication;
using Forge.Actors.Supervision;
using Forge.Model.Config;

namespace Forge.Actors.Training;

/// <summary>
/// `forge train` / `forge resume`, and `forge node`. Without a cluster: one actor system with the job
/// supervisor and one rank actor per local device. With <see cref="TrainingServices.Cluster"/> set, the
/// process is a <see cref="JobNode"/>: the seed of a cluster whose supervisor is a singleton that any
/// process of the job can host.
/// </summary>
public static class LocalTrainingJob
{
    /// <summary>
    /// Runs the job to its end. Cancelling `ct` finishes the current step, commits a checkpoint and
    /// returns a <see cref="JobFinished"/> with a resume hint.
    /// </summary>
    public static async Task<JobFinished> RunAsync(TrainingJobOptions options, ITrainingObserver observer, TrainingServices services, CancellationToken ct)
    {
        if (options.MemoryOnly && (services.Cluster is null || services.Replicas is null))
            throw new ArgumentException(services.Cluster is null
                ? "--memory-only trains nothing here, so it needs --cluster-port: the ranks come from `forge node` processes"
                : $"--memory-only holds buddy replicas, but elastic.replica_interval = {options.Config.Elastic.ReplicaInterval} keeps none: expected 1 or more");
        var devices = options.MemoryOnly ? [] : LocalDevices(options.Ranks, services.CudaDeviceCount);
        var settings = await LaunchSettings(options, services, devices.Count, observer, ct).ConfigureAwait(false);
        if (services.Cluster is { } seed)
        {
            var starts = new SupervisorStarts(settings.JobId, new SupervisorStart.Launch(settings, options.ResolvedConfig), TakeOverSettings(options, services));
            await using var node = JobNode.Start(seed.Host, seed.Port, [], devices.Select(services.ForRank).ToList(), starts, services.Store, observer,
            akkaLog: AkkaLog(options), security: options.Config.Security, memoryOnly: options.MemoryOnly ? services.Replicas : null);
            var result = await node.RunAsync(stopJobOnCancel: true, ct).ConfigureAwait(false);
            return result.Finished ?? new JobFinished(settings.ResumeFrom?.Step ?? 0, false, null,
                $"the job went on without this process's supervisor: {result.LastLeave?.Reason ?? "no word from it"}");
        }

        var system = ActorSystem.Create(ForgeAkkaConfig.SystemName, ForgeAkkaConfig.LoggingTo(ForgeAkkaConfig.SingleProcess(), AkkaLog(options)));
        try
        {
            var supervisor = system.ActorOf(JobSupervisor.Props(new SupervisorStart.Launch(settings, options.ResolvedConfig), services.Store, observer), JobSupervisor.Name);
            var finished = supervisor.Ask<JobFinished>(AwaitJobFinished.Instance);
            var supervisorStopped = supervisor.WatchAsync(CancellationToken.None);
            system.ActorOf(RankHost.Props(devices.Select(services.ForRank).ToList(), $"/user/{JobSupervisor.Name}"), "ranks");

            await using var stop = ct.Register(() => supervisor.Tell(new StopJob("cancelled by the host")));
            if (await Task.WhenAny(finished, supervisorStopped).ConfigureAwait(false) != finished)
                // The supervisor stops right after replying, so the reply may still be on its way;
                // without one, the supervisor crashed (the guardian stops, never restarts, it).
                await Task.WhenAny(finished, Task.Delay(ElasticTimings.FinalReplyGrace, CancellationToken.None)).ConfigureAwait(false);
            return finished.IsCompletedSuccessfully
                ? finished.Result
                : new JobFinished(settings.ResumeFrom?.Step ?? 0, false, null, "the job supervisor stopped unexpectedly (see the log for its exception)");
        }
        finally
        {
            await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// `forge node`: lends this process's ranks to the cluster job at <paramref name="seeds"/> until the job ends or
    /// refuses them, or <paramref name="ct"/> fires; hosts the job's supervisor when this process becomes the oldest.
    /// With <paramref name="memoryOnly"/> (and no devices), it lends that replica channel instead, as a buddy that trains nothing.
    /// </summary>
    public static async Task<JobNodeResult> RunNodeAsync(TrainingJobOptions options, string host, int port, IReadOnlyList<string> seeds,
        IReadOnlyList<int> devices, ITrainingObserver observer, TrainingServices services, CancellationToken ct, ReplicaServer? memoryOnly = null)
    {
        var starts = new SupervisorStarts(options.Config.RunName, launch: null, TakeOverSettings(options, services));
        await using var node = JobNode.Start(host, port, seeds, devices.Select(services.ForRank).ToList(), starts, services.Store, observer,
            akkaLog: AkkaLog(options), security: options.Config.Security, memoryOnly: memoryOnly);
        return await node.RunAsync(stopJobOnCancel: false, ct).ConfigureAwait(false);
    }

    /// <summary>runs/&lt;run&gt;/akka.log: Akka's own log, kept off the console.</summary>
    public static string AkkaLog(TrainingJobOptions options) => Path.Combine(options.RunDirectory, "akka.log");

    /// <summary>One entry per local rank: a CUDA index, or -1 for a CPU rank.</summary>
    internal static IReadOnlyList<int> LocalDevices(int requestedRanks, Func<int> cudaDeviceCount)
    {
        if (requestedRanks < 0) throw new ArgumentOutOfRangeException(nameof(requestedRanks), requestedRanks, "ranks: expected 0 (all GPUs) or a positive count");
        var gpus = cudaDeviceCount();
        if (gpus == 0) return Enumerable.Repeat(-1, Math.Max(requestedRanks, 1)).ToArray();
        if (requestedRanks > gpus)
            throw new ArgumentException($"ranks={requestedRanks}, but only {gpus} GPUs are visible (one rank per GPU)", nameof(requestedRanks));
        return Enumerable.Range(0, requestedRanks == 0 ? gpus : requestedRanks).ToArray();
    }

    /// <summary>The settings of a supervisor that takes the job over: the job record's config, with this process's data cursor.</summary>
    private static Func<string, JobSupervisorSettings> TakeOverSettings(TrainingJobOptions options, TrainingServices services) => toml =>
    {
        var config = toml.Length > 0 && options.ParseConfig is { } parse ? parse(toml) : options.Config;
        return ProcessSettings(config, options, services);
    };

    private static JobSupervisorSettings ProcessSettings(JobConfig config, TrainingJobOptions options, TrainingServices services) =>
        JobSupervisorSettings.FromConfig(config) with
        {
            DataCursorAfter = services.DataCursorAfter,
            ResumeHint = step => $"checkpoint at step {step} committed; continue with `forge resume {options.RunDirectory}`",
        };

    private static async Task<JobSupervisorSettings> LaunchSettings(TrainingJobOptions options, TrainingServices services, int localRanks, ITrainingObserver observer, CancellationToken ct)
    {
        var settings = ProcessSettings(options.Config, options, services);
        if (services.Cluster is null)
        {
            // Nobody else can join a single-process job: the first world waits for every local rank
            // (ranks beyond max_ranks stay as spares), and re-forming after a loss waits for no newcomer.
            if (settings.MinRanks > localRanks)
                throw new ArgumentException($"elastic.min_ranks={settings.MinRanks} exceeds the {localRanks} local ranks of a single-process job");
            settings = settings with
            {
                MaxRanks = settings.MaxRanks == 0 ? localRanks : Math.Min(settings.MaxRanks, localRanks),
                ExpectedRanks = localRanks,
                FormationSettle = TimeSpan.Zero,
            };
        }
        if (!options.Resume) return settings;

        var latest = await ResumePoint.FindAsync(services.Store, settings.JobId, settings.ModelConfigHash, observer.OnMessage, ct).ConfigureAwait(false);
        return settings with { ResumeFrom = latest };
    }
}
