namespace Forge.Actors.Protocol;

/// <summary>
/// The fixed waits of the elastic protocol that are not configuration keys, in one place. Each is a
/// trade-off measured or argued here; the configurable ones are [distributed] step_timeout_sec,
/// form_timeout_sec and abort_timeout_sec.
/// </summary>
public static class ElasticTimings
{
    /// <summary>
    /// A rank re-sends its registration this often until a supervisor answers: a node may start
    /// before the job, and a new supervisor (after a hand-over) appears at the same path. A new supervisor
    /// waits this long (plus a margin) for the survivors before its first world, so it is kept short; a
    /// registration is one small message to at most two paths.
    /// </summary>
    public static readonly TimeSpan RegisterRetry = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// A dropped rank's slot starts a fresh rank after this delay: long enough for the old rank's torch
    /// thread to release its device memory, short next to a re-formation.
    /// </summary>
    public static readonly TimeSpan ReplacementDelay = TimeSpan.FromSeconds(1);

    /// <summary>
    /// At launch, once min_ranks registered, the supervisor waits this long after the latest registration
    /// for more: ranks of one launch arrive in a burst. Re-formations after a loss do not wait.
    /// </summary>
    public static readonly TimeSpan LaunchSettle = TimeSpan.FromSeconds(3);

    /// <summary>How long the end of a job waits for its ranks to stop before reporting anyway.</summary>
    public static readonly TimeSpan Shutdown = TimeSpan.FromSeconds(30);

    /// <summary>How long a stopping rank waits for its torch thread to finish the work in hand.</summary>
    public static readonly TimeSpan RankThreadStop = TimeSpan.FromSeconds(30);

    /// <summary>
    /// After the supervisor stopped, how long the host waits for its final reply, which may still be on
    /// its way; without one, the supervisor crashed.
    /// </summary>
    public static readonly TimeSpan FinalReplyGrace = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long after the previous host's removal the supervisor singleton starts on the next oldest node
    /// (Akka's default is the resolver's stable-after, 20 s). Safe to keep short: a node is downed either
    /// because its process is gone (Cluster.DeadNodeDowning) or by the resolver on the side that shuts down.
    /// </summary>
    public static readonly TimeSpan SingletonRemovalMargin = TimeSpan.FromMilliseconds(500);
}
