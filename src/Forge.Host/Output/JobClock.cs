using Forge.Actors.Protocol;
using Forge.Actors.Training;

namespace Forge.Host.Output;

/// <summary>
/// Wall time since this process started (or resumed) the job, and the time left at the pace of
/// the steps run since then. Steps restored from a checkpoint are not counted: they took no time here.
/// </summary>
public sealed class JobClock(TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private long _startTimestamp;
    private long _startStep = -1;
    private long _maxSteps;

    public void Start(JobStarted info)
    {
        _startTimestamp = _clock.GetTimestamp();
        _startStep = info.StartStep;
        _maxSteps = info.MaxSteps;
    }

    public double ElapsedSeconds => _startStep < 0 ? 0 : _clock.GetElapsedTime(_startTimestamp).TotalSeconds;

    public TimeSpan? Remaining(long stepsDone)
    {
        var run = stepsDone - _startStep;
        var elapsed = ElapsedSeconds;
        if (_startStep < 0 || run <= 0 || elapsed <= 0) return null;
        return TimeSpan.FromSeconds(Math.Max(0, _maxSteps - stepsDone) * elapsed / run);
    }
}
