using System.Diagnostics;

namespace Forge.Host.Benchmarks;

/// <summary>
/// Where the pooled simulated ranks of one process spend their step time: each rank's step end waits here with
/// its due time, and one timer fires for every end that is due. A timer per rank (Task.Delay) cost the fan-out's
/// thread one timer insertion per rank and the fan-in one callback per rank, on the cores that also run the
/// supervisor; on a cluster the wait costs nothing, each rank waiting on its own host. A step lasts at least its
/// time, later by the timer's resolution (about a millisecond), which only shifts the fan-in.
/// </summary>
internal sealed class SimulatedStepClock
{
    public static SimulatedStepClock Shared { get; } = new();

    private readonly object _gate = new();
    private readonly PriorityQueue<Action, long> _due = new();
    private readonly Timer _timer;
    private long _armedFor = long.MaxValue;

    private SimulatedStepClock() => _timer = new Timer(_ => Fire());

    /// <summary>Runs `then` once `duration` has passed, on the timer's thread with every other end due by then.</summary>
    public void After(TimeSpan duration, Action then)
    {
        var due = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        lock (_gate)
        {
            _due.Enqueue(then, due);
            if (due < _armedFor) Arm(due);
        }
    }

    private void Arm(long due)
    {
        _armedFor = due;
        var wait = Math.Max(0, Math.Ceiling((due - Stopwatch.GetTimestamp()) * 1000.0 / Stopwatch.Frequency));
        _timer.Change((long)wait, Timeout.Infinite);
    }

    private void Fire()
    {
        var ready = new List<Action>();
        lock (_gate)
        {
            _armedFor = long.MaxValue;
            var now = Stopwatch.GetTimestamp();
            while (_due.TryPeek(out _, out var due) && due <= now) ready.Add(_due.Dequeue());
            if (_due.TryPeek(out _, out var next)) Arm(next);
        }
        foreach (var then in ready) then();
    }
}
