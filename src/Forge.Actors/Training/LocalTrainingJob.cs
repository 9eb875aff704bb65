using Akka.Actor;
using Forge.Actors.Checkpointing;
using Forge.Actors.Cluster;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Security;
using Forge.Actors.Supervision;

namespace Forge.Actors.Training;

/// <summary>
/// `forge train` / `forge resume` in one process: an actor system with the job supervisor and one
/// rank actor per local device. With <see cref="TrainingServices.Cluster"/> set, the process is
/// also a cluster seed, and ranks of `forge node` processes join the same job.
/// </summary>
public static class LocalTrainingJob
{
    /// <summary>
    /// Runs the job to its end. Cancelling `ct` finishes the current step, commits a checkpoint and
    /// returns a <see cref="JobFinished"/> with a resume hint.
    /// </summary>
    public static async Task<JobFinished> RunAsync(TrainingJobOptions options, ITrainingObserver observer, TrainingServices services, CancellationToken ct)
    {
        var devices = LocalDevices(options.Ranks, services.CudaDeviceCount);
        var settings = await SupervisorSettings(options, services, devices.Count, observer, ct).ConfigureAwait(false);
        var system = services.Cluster is { } seed
            ? ForgeAkkaConfig.CreateNode(seed.Host, seed.Port, [$"{seed.Host}:{seed.Port}"], ClusterTrust.For(seed.Host, options.Config.Security))
            : ActorSystem.Create(ForgeAkkaConfig.SystemName, ForgeAkkaConfig.SingleProcess());
        try
        {
            var supervisor = system.ActorOf(JobSupervisor.Props(settings, services.Store, observer), JobSupervisor.Name);
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

    private static async Task<JobSupervisorSettings> SupervisorSettings(TrainingJobOptions options, TrainingServices services, int localRanks, ITrainingObserver observer, CancellationToken ct)
    {
        var config = options.Config;
        var settings = JobSupervisorSettings.FromConfig(config) with
        {
            DataCursorAfter = services.DataCursorAfter,
            ResumeHint = step => $"checkpoint at step {step} committed; continue with `forge resume {options.RunDirectory}`",
        };
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
