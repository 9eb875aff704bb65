using System.Diagnostics;
using Forge.Actors.Protocol;
using Forge.Model.Evaluation;
using Forge.Model.Training;

namespace Forge.Actors.Supervision;

/// <summary>
/// One step's barrier: which ranks have reported, and the aggregate once all have. A
/// <see cref="StepResult"/> names whose each value is: <c>World*</c> values (loss, target tokens,
/// gradient norm, eval loss, the skip, MoE routing) are the same on every rank and are taken once, from rank 0;
/// <c>Rank*</c> values are shares: samples add up, and the slowest rank's timings are reported.
/// </summary>
internal sealed class StepBarrier(long step, int worldSize)
{
    private readonly StepResult?[] _results = new StepResult?[worldSize];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _arrived;

    public long Step { get; } = step;
    public bool Complete => _arrived == _results.Length;

    /// <summary>Records rank `rank`'s result; false when it is out of range, a duplicate or of another step.</summary>
    public bool Arrive(int rank, StepResult result)
    {
        if (rank < 0 || rank >= _results.Length || _results[rank] is not null || result.Step != Step) return false;
        _results[rank] = result;
        _arrived++;
        return true;
    }

    public IEnumerable<int> Missing => Enumerable.Range(0, _results.Length).Where(r => _results[r] is null);

    public StepOutcome Aggregate()
    {
        if (!Complete) throw new InvalidOperationException($"step {Step}: ranks {string.Join(", ", Missing)} have not reported");
        var world = _results[0]!;
        var wall = _clock.Elapsed.TotalSeconds;
        long samples = 0;
        var slowest = world.RankTimings;
        foreach (var result in _results)
        {
            samples += result!.RankSamples;
            if (result.RankTimings.Total > slowest.Total) slowest = result.RankTimings;
        }
        var report = new StepReport(Step, world.WorldLoss, world.LearningRate, world.WorldGradNorm, world.WorldTokens,
            wall > 0 ? world.WorldTokens / wall : 0, _results.Length, wall, slowest, world.Skipped, world.WorldRouting);
        return new StepOutcome(report, samples, world.WorldEvalLoss);
    }
}

/// <summary>A passed barrier: the step's report, the samples the world consumed, and the eval loss of an eval step.</summary>
internal sealed record StepOutcome(StepReport Report, long Samples, HeldOutLosses? EvalLoss);
