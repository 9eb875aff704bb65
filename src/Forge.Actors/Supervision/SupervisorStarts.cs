namespace Forge.Actors.Supervision;

/// <summary>
/// The supervisors one process starts for a job. As a cluster singleton, the supervisor may start in
/// any process of the job, and again after a hand-over: the process that launched the job
/// (<paramref name="launch"/>) runs its own settings the first time; every other start takes the job
/// over from its store. It also tells the process whether a supervisor is running in it, which
/// decides whether the process may exit once its ranks have left.
/// </summary>
/// <param name="launch">The launch's settings (`forge train`/`forge resume`), or null in a `forge node` process.</param>
/// <param name="settingsFrom">Turns the resolved config of the job record (TOML) into settings, for take-overs.</param>
public sealed class SupervisorStarts(string jobId, SupervisorStart.Launch? launch, Func<string, JobSupervisorSettings> settingsFrom)
{
    private int _issued;
    private int _running;

    /// <summary>This process's cluster address ("host:port"), recorded in each job record; set once the node is bound.</summary>
    public string Host { get; set; } = "local";

    public string JobId => jobId;

    /// <summary>True while a supervisor of this process has not stopped.</summary>
    public bool RunningHere => Volatile.Read(ref _running) > 0;

    internal SupervisorStart Next()
    {
        Interlocked.Increment(ref _running);
        return Interlocked.Increment(ref _issued) == 1 && launch is not null
            ? launch with { Host = Host }
            : new SupervisorStart.TakeOver(jobId, settingsFrom) { Host = Host };
    }

    internal void Stopped() => Interlocked.Decrement(ref _running);
}
