using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Model.Training;

namespace Forge.Host.Tests;

/// <summary>Step reports as a job sends them: <paramref name="done"/> steps done is step index done - 1.</summary>
internal static class Reports
{
    public static StepReport Step(long done, double loss, int world = 2) => new(
        done - 1, loss, LearningRate: 1e-3 * done / (done + 1), GradNorm: 0.5 + done / 100.0, Tokens: 16 * 48,
        TokensPerSecond: 1000 + done, WorldSize: world, WallSeconds: 0.25,
        SlowestRank: new StepTimings(0.01, 0.2, 0.02, 0.01, 0.01, 0.25));
}

/// <summary>A clock that moves only when told, for wall times and remaining-time estimates.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private TimeSpan _elapsed;

    public void Advance(TimeSpan by) => _elapsed += by;

    public override DateTimeOffset GetUtcNow() => start + _elapsed;
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override long GetTimestamp() => _elapsed.Ticks;
}

/// <summary>A clock that stands still at a chosen instant.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
