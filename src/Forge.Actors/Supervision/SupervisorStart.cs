using Forge.Actors.Checkpointing;
using Forge.Actors.Protocol;

namespace Forge.Actors.Supervision;

/// <summary>
/// How a supervisor learns which job it runs. The process that launched the job knows its settings;
/// a supervisor started anywhere else (a cluster singleton taking over after its node died) reads the
/// job's resolved config and newest checkpoint from the job's store.
/// </summary>
public abstract record SupervisorStart
{
    /// <summary>Where the supervisor runs ("host:port", or "local"), recorded in the job record and the journal.</summary>
    public string Host { get; init; } = "local";

    /// <summary>`forge train` / `forge resume`: the launch's own settings and its resolved config (TOML) for the job record.</summary>
    public sealed record Launch(JobSupervisorSettings Settings, string ResolvedConfig = "") : SupervisorStart;

    /// <summary>
    /// A supervisor that takes job <paramref name="JobId"/> over: <paramref name="SettingsFrom"/> turns the resolved
    /// config in the job record into settings (the host parses TOML; the actors do not).
    /// </summary>
    public sealed record TakeOver(string JobId, Func<string, JobSupervisorSettings> SettingsFrom) : SupervisorStart;
}

/// <summary>What opening the job gave: the settings to run with, this incarnation's record, and the one it replaced.</summary>
internal sealed record OpenedJob(JobSupervisorSettings Settings, JobRecord Record, JobRecord? Previous, bool TookOver);

internal static class JobOpening
{
    /// <summary>How often a supervisor that takes over looks for a job record that is not there yet.</summary>
    private static readonly TimeSpan RecordPoll = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Reads the job's previous record, resolves the settings (and, on a take-over, the checkpoint to
    /// resume from), and writes this incarnation's record with a fresh token.
    /// </summary>
    public static async Task<OpenedJob> OpenAsync(SupervisorStart start, ICheckpointStore store, Action<string> report, CancellationToken ct)
    {
        var jobId = start switch
        {
            SupervisorStart.Launch l => l.Settings.JobId,
            SupervisorStart.TakeOver t => t.JobId,
            _ => throw new ArgumentOutOfRangeException(nameof(start)),
        };
        var previous = await store.ReadJobRecordAsync(jobId, ct).ConfigureAwait(false);
        JobSupervisorSettings settings;
        string resolved;
        switch (start)
        {
            case SupervisorStart.Launch launch:
                settings = launch.Settings;
                resolved = launch.ResolvedConfig;
                break;
            case SupervisorStart.TakeOver takeOver:
                // A node can become the oldest before the seed wrote the record (it started first): wait for it.
                var waited = false;
                while (previous is null)
                {
                    if (!waited) report($"no supervisor has opened job '{jobId}' in {store.Location} yet: waiting for the seed");
                    waited = true;
                    await Task.Delay(RecordPoll, ct).ConfigureAwait(false);
                    previous = await store.ReadJobRecordAsync(jobId, ct).ConfigureAwait(false);
                }
                settings = takeOver.SettingsFrom(previous.ResolvedConfig);
                var latest = await store.LatestAsync(jobId, ct).ConfigureAwait(false);
                if (latest is not null && latest.ModelConfigHash.Length > 0) CheckpointCompatibility.Verify(latest, settings.ModelConfigHash);
                // The survivors' ranks re-register within one retry of the new supervisor's start: settle for that, not for a launch.
                settings = settings with
                {
                    ResumeFrom = latest, ExpectedRanks = 0,
                    FormationSettle = ElasticTimings.RegisterRetry + TimeSpan.FromMilliseconds(500),
                };
                resolved = previous.ResolvedConfig;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(start));
        }
        var record = new JobRecord(jobId, (previous?.Incarnation ?? 0) + 1, JobRecord.NewToken(), start.Host,
            resolved.Length > 0 ? resolved : previous?.ResolvedConfig ?? "", DateTimeOffset.UtcNow);
        await store.WriteJobRecordAsync(record, ct).ConfigureAwait(false);
        return new OpenedJob(settings, record, previous, start is SupervisorStart.TakeOver);
    }
}
