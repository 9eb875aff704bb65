using System.Collections.Concurrent;
using Forge.Actors.Protocol;

namespace Forge.Actors.Ranks;

/// <summary>
/// The one thread on which a rank's torch work runs, fed through a FIFO queue.
///
/// Why a thread the actor posts to rather than Akka's PinnedDispatcher: with a pinned dispatcher
/// the actor itself would be busy for the whole step (seconds to minutes) and could not receive
/// <see cref="AbortStep"/> while a collective hangs on a dead peer. Posting keeps the actor free to
/// abort the collective group from its own thread, which is exactly what unblocks the torch thread.
/// Torch's per-thread state (device, dispose scopes, grad mode) still sees a single thread.
/// The FIFO order also gives the checkpoint its consistency: a shard snapshot posted after step s
/// runs after step s and before step s+1, without any locking.
/// </summary>
public sealed class RankThread : IRankThread, IDisposable
{
    private readonly BlockingCollection<Action<Exception?>> _work = new();
    private readonly Thread _thread;

    public RankThread(string name, Action prepare)
    {
        // Background: a torch call stuck in native code must not keep a finished process alive.
        _thread = new Thread(() => Loop(prepare)) { Name = name, IsBackground = true };
        _thread.Start();
    }

    public int ManagedThreadId => _thread.ManagedThreadId;

    /// <summary>Queues `work`; the task completes (off this thread) with its result or exception.</summary>
    public Task<T> Run<T>(Func<T> work)
    {
        // Continuations must not run inline on the torch thread, or an awaiting caller would steal it.
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Action<Exception?> action = prepareError =>
        {
            // A thread that could not bind its device must not run torch work on the wrong one.
            if (prepareError is not null)
            {
                done.SetException(new InvalidOperationException($"{_thread.Name} could not be prepared: {prepareError.Message}", prepareError));
                return;
            }
            try { done.SetResult(work()); }
            catch (Exception e) { done.SetException(e); }
        };
        if (!TryAdd(action))
            done.SetException(new ObjectDisposedException(_thread.Name, "the rank thread has stopped"));
        return done.Task;
    }

    public Task Run(Action work) => Run(() => { work(); return true; });

    /// <summary>Stops taking work, lets queued work finish, and waits up to `timeout` for the thread.</summary>
    public bool Stop(TimeSpan timeout)
    {
        _work.CompleteAdding();
        return _thread.Join(timeout);
    }

    public void Dispose() => Stop(TimeSpan.FromSeconds(30));

    private bool TryAdd(Action<Exception?> action)
    {
        try { return _work.TryAdd(action); }
        catch (InvalidOperationException) { return false; }   // adding completed
    }

    private void Loop(Action prepare)
    {
        Exception? prepareError = null;
        try { prepare(); }
        catch (Exception e) { prepareError = e; }
        foreach (var action in _work.GetConsumingEnumerable()) action(prepareError);
    }
}
