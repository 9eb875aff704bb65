using System.Diagnostics;
using Forge.Actors.Training;
using Forge.Model.Evaluation;
using Forge.Model.Training;

namespace Forge.Actors.Supervision;

/// <summary>
/// One step's barrier: which ranks have reported, and the aggregate once all have. Every rank
/// reports its own slice, so tokens add up and the loss is their token-weighted mean (which is
/// also exact when engines already report the globally reduced loss); the grad norm, learning
/// rate and held-out loss are global by construction, so rank 0's are taken.
/// </summary>
internal sealed class StepBarrier(long step, int worldSize)
{
    private readonly StepResult?[] _results = new StepResult?[worldSize];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _arrived;

    public long Step { get; } = step;
    public bool Complete => _arrived == _results.Length;

    /// <summary>Records rank `rank`'s result; false when it is out of range or a duplicate.</summary>
    public bool Arrive(int rank, StepResult result)
    {
        if (rank < 0 || rank >= _results.Length || _results[rank] is not null || result.Step != Step) return false;
        _results[rank] = result;
        _arrived++;
        return true;
    }

    /// <summary>Samples of the global batch, summed over the ranks that reported.</summary>
    public long Samples => _results.Sum(r => r?.Samples ?? 0);

    /// <summary>The held-out losses of an eval step (rank 0's; every rank reports the same global values), else null.</summary>
    public HeldOutLosses? EvalLoss => _results[0]?.EvalLoss;

    public IEnumerable<int> Missing => Enumerable.Range(0, _results.Length).Where(r => _results[r] is null);

    public StepReport Aggregate()
    {
        if (!Complete) throw new InvalidOperationException($"step {Step}: ranks {string.Join(", ", Missing)} have not reported");
        var results = _results.Select(r => r!).ToArray();
        var wall = _clock.Elapsed.TotalSeconds;
        var tokens = results.Sum(r => r.Tokens);
        var loss = tokens > 0
            ? results.Sum(r => r.Loss * r.Tokens) / tokens
            : results.Average(r => r.Loss);
        var slowest = results.MaxBy(r => r.Timings.Total)!.Timings;
        return new StepReport(Step, loss, results[0].LearningRate, results[0].GradNorm, tokens,
            wall > 0 ? tokens / wall : 0, results.Length, wall, slowest);
    }
}
