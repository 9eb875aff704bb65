using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Forge.Host.Benchmarks;

/// <summary>
/// Per (world, step) of `forge bench supervisor`: when the last rank started and ended it, and how many ranks
/// did, in Stopwatch ticks. Ticks of one machine's processes compare: on Linux they read the system-wide
/// monotonic clock, so a child process's marks merge with the supervisor's (see <see cref="Line"/>).
/// </summary>
internal sealed class StepMarks(Action<string>? completedHere = null)
{
    private const string Prefix = "step-marks ";

    private readonly ConcurrentDictionary<(long Epoch, long Step), Mark> _marks = new();
    private readonly ConcurrentDictionary<long, int> _ranksHere = new();

    /// <summary>A rank of this process joined world `epoch` (its engine was built).</summary>
    public void Joined(long epoch) => _ranksHere.AddOrUpdate(epoch, 1, (_, n) => n + 1);

    public void Started(long epoch, long step, long at)
    {
        var mark = _marks.GetOrAdd((epoch, step), _ => new Mark());
        Interlocked.Increment(ref mark.Runs);
        Max(ref mark.LastStart, at);
    }

    public void Ended(long epoch, long step, long at)
    {
        var mark = _marks[(epoch, step)];
        Max(ref mark.LastEnd, at);
        // Once every rank of this process ended the step: its line for the supervisor's process.
        if (Interlocked.Increment(ref mark.Dones) == _ranksHere.GetValueOrDefault(epoch) && completedHere is not null)
            completedHere(Line(epoch, step, mark));
    }

    /// <summary>One process's marks of one step, as a child prints them.</summary>
    private static string Line(long epoch, long step, Mark mark) => string.Create(CultureInfo.InvariantCulture,
        $"{Prefix}{epoch} {step} {Volatile.Read(ref mark.Runs)} {Volatile.Read(ref mark.Dones)} {Volatile.Read(ref mark.LastStart)} {Volatile.Read(ref mark.LastEnd)} {StepMessageCount.Out(epoch, step)}");

    /// <summary>Adds a child's line; false when `line` is not one.</summary>
    public bool Merge(string line)
    {
        if (!line.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        var f = line[Prefix.Length..].Split(' ');
        if (f.Length != 7) throw new FormatException($"step marks line \"{line}\": expected epoch, step, runs, dones, last start, last end and steps relayed");
        var n = f.Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        var mark = _marks.GetOrAdd((n[0], n[1]), _ => new Mark());
        Interlocked.Add(ref mark.Runs, (int)n[2]);
        Interlocked.Add(ref mark.Dones, (int)n[3]);
        Max(ref mark.LastStart, n[4]);
        Max(ref mark.LastEnd, n[5]);
        StepMessageCount.AddOut(n[0], n[1], (int)n[6]);
        return true;
    }

    /// <summary>Waits until steps 0..`steps` of the first world have every one of its `ranks` ranks' marks (children print theirs late).</summary>
    public async Task AwaitFirstWorldAsync(int steps, int ranks, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (!Enumerable.Range(0, steps + 1).All(s => _marks.Keys.Count > 0 && _marks.TryGetValue((FirstEpoch, s), out var m) && m.Dones >= ranks))
        {
            if (Stopwatch.GetTimestamp() > deadline)
                throw new TimeoutException($"the step marks of the first world's steps 0..{steps} did not all arrive within {timeout.TotalSeconds} s");
            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    private long FirstEpoch => _marks.Keys.Min(k => k.Epoch);

    /// <summary>
    /// Steps `after`+1..`after`+`steps` of the first world, in ms: fan-in (the last rank's end of step s-1 to the
    /// supervisor passing its barrier), fan-out (that to the last rank's start of step s), their sum; and the supervisor's
    /// messages per step (<see cref="StepMessageCount"/>): results in, steps out.
    /// </summary>
    public FirstWorldFigures FirstWorld(int after, int steps, IReadOnlyDictionary<long, long> barrierPassedAt)
    {
        var epoch = FirstEpoch;
        var fanIn = new List<double>();
        var fanOut = new List<double>();
        var roundTrip = new List<double>();
        long stepsOut = 0, resultsIn = 0;
        for (var step = after + 1; step <= after + steps; step++)
        {
            var previous = _marks[(epoch, step - 1)];
            var current = _marks[(epoch, step)];
            var passed = barrierPassedAt[step - 1];
            fanIn.Add(Stopwatch.GetElapsedTime(previous.LastEnd, passed).TotalMilliseconds);
            fanOut.Add(Stopwatch.GetElapsedTime(passed, current.LastStart).TotalMilliseconds);
            roundTrip.Add(Stopwatch.GetElapsedTime(previous.LastEnd, current.LastStart).TotalMilliseconds);
            stepsOut += StepMessageCount.Out(epoch, step - 1);
            resultsIn += StepMessageCount.In(epoch, step - 1);
        }
        return new FirstWorldFigures(fanIn, fanOut, roundTrip, stepsOut / (double)steps, resultsIn / (double)steps);
    }

    private static void Max(ref long field, long value)
    {
        var seen = Volatile.Read(ref field);
        while (value > seen)
        {
            var found = Interlocked.CompareExchange(ref field, value, seen);
            if (found == seen) return;
            seen = found;
        }
    }

    private sealed class Mark
    {
        public long LastStart, LastEnd;
        public int Runs, Dones;
    }
}

internal sealed record FirstWorldFigures(IReadOnlyList<double> FanInMs, IReadOnlyList<double> FanOutMs, IReadOnlyList<double> RoundTripMs,
    double StepsOutPerStep, double ResultsInPerStep);
