namespace Forge.Actors.Ranks;

/// <summary>
/// Where a rank's torch work runs: one item at a time, in the order queued (see <see cref="RankThread"/>,
/// the production one, a dedicated OS thread). <c>forge bench supervisor</c> simulates thousands of ranks in one
/// process with a pooled stand-in, since on a cluster each rank's thread wakes on its own host.
/// </summary>
public interface IRankThread
{
    /// <summary>Queues `work`; the task completes (off this thread) with its result or exception.</summary>
    Task<T> Run<T>(Func<T> work);

    Task Run(Action work);

    /// <summary>Stops taking work, lets queued work finish, and waits up to `timeout` for it.</summary>
    bool Stop(TimeSpan timeout);
}
