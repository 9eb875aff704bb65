using Forge.Actors.Ranks;

namespace Forge.Host.Benchmarks;

/// <summary>
/// A simulated rank's thread for `forge bench supervisor --rank-threads pooled`: its work runs one item at a
/// time, in the order queued, on the thread pool, and a step's time passes on the process's
/// <see cref="SimulatedStepClock"/> instead of on a blocked thread. On a cluster every rank's thread wakes on its
/// own host; thousands of dedicated threads sharing this machine's two cores would time their own wake-ups rather
/// than the control plane. Items are plain delegates in a queue, not a chain of tasks: at W = 512 every
/// allocation and state machine on the step's path runs 512 times on the fan-out's thread.
/// </summary>
internal sealed class PooledRankThread : IRankThread
{
    [ThreadStatic] private static PooledRankThread? _running;

    private readonly string _name;
    private readonly object _gate = new();
    private readonly Queue<Action> _queued = new();
    private bool _busy, _stopping;
    private Exception? _prepareError;
    // Set by the work item running now (see Spend); read once it returned.
    private TimeSpan _spend;
    private Action? _spent;

    public PooledRankThread(string name, Action prepare)
    {
        _name = name;
        Run(() =>
        {
            try { prepare(); }
            catch (Exception e) { _prepareError = e; }
        });
    }

    /// <summary>
    /// Called by the work item running on a pooled rank thread: its result is delivered `duration` later, after
    /// `spent` ran, and the thread's next item waits as long; no thread is held meanwhile.
    /// </summary>
    public static void Spend(TimeSpan duration, Action spent)
    {
        var thread = _running ?? throw new InvalidOperationException("PooledRankThread.Spend was called outside a pooled rank thread's work");
        thread._spend = duration;
        thread._spent = spent;
    }

    public Task<T> Run<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Item() => Execute(work, done);
        bool idle;
        lock (_gate)
        {
            if (_stopping)
            {
                done.SetException(new ObjectDisposedException(_name, "the rank thread has stopped"));
                return done.Task;
            }
            idle = !_busy;
            if (idle) _busy = true;
            else _queued.Enqueue(Item);
        }
        // An idle thread starts the work at once, on the caller's thread, up to its first wait: a real rank's
        // thread is already awake on its own host, and a hop through the pool would time this machine's queue.
        if (idle) Item();
        return done.Task;
    }

    public Task Run(Action work) => Run(() => { work(); return true; });

    /// <summary>
    /// Takes no more work and returns at once: queued work still finishes on the pool. Waiting would block the
    /// stopping actor's pool thread on work that needs the pool (thousands of ranks stop together), and a
    /// simulated rank holds no device to release.
    /// </summary>
    public bool Stop(TimeSpan timeout)
    {
        lock (_gate) _stopping = true;
        return true;
    }

    private void Execute<T>(Func<T> work, TaskCompletionSource<T> done)
    {
        if (_prepareError is { } error)
        {
            done.SetException(new InvalidOperationException($"{_name} could not be prepared: {error.Message}", error));
            RunNext();
            return;
        }
        T result;
        _running = this;
        try
        {
            result = work();
        }
        catch (Exception e)
        {
            // A wait the failed work asked for is not carried over to the next item.
            (_running, _spend, _spent) = (null, TimeSpan.Zero, null);
            done.SetException(e);
            RunNext();
            return;
        }
        _running = null;
        var (spend, spent) = (_spend, _spent);
        (_spend, _spent) = (TimeSpan.Zero, null);
        if (spend <= TimeSpan.Zero) Deliver(result, done, spent);
        else SimulatedStepClock.Shared.After(spend, () => Deliver(result, done, spent));
    }

    private void Deliver<T>(T result, TaskCompletionSource<T> done, Action? spent)
    {
        spent?.Invoke();
        done.SetResult(result);
        RunNext();
    }

    /// <summary>The next queued item, on the pool (the caller may be the clock's timer); or the thread is idle again.</summary>
    private void RunNext()
    {
        Action? next;
        lock (_gate)
        {
            if (!_queued.TryDequeue(out next))
            {
                _busy = false;
                return;
            }
        }
        ThreadPool.UnsafeQueueUserWorkItem(static item => item(), next, preferLocal: false);
    }
}
