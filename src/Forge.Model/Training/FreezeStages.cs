using Forge.Model.Optim;
using Forge.Model.Modeling;

namespace Forge.Model.Training;

/// <summary>
/// A run's freeze schedule seen by the optimizer. The flat layout holds every parameter that trains
/// in any stage (so it, and every checkpoint, stays the same across stage changes and resumes), and
/// each stage marks which of those entries train now. The AdamW bias-correction step of an entry
/// counts only the steps it trained, as torch.optim does for a parameter whose grad was None: an
/// encoder unfrozen at step 1000 takes its first update with step 1, not step 1001. Those counts
/// follow from the schedule and the global step alone, so checkpoints need not store them.
/// </summary>
public sealed class FreezeStages
{
    private readonly bool[][] _active;   // [stage][layout entry]

    private FreezeStages(IReadOnlyList<long> starts, IReadOnlyList<string> layoutNames, bool[][] active)
    {
        Starts = starts;
        LayoutNames = layoutNames;
        _active = active;
    }

    /// <summary>First step of each stage: 0, then the model's schedule boundaries.</summary>
    public IReadOnlyList<long> Starts { get; }

    /// <summary>Parameters that train in at least one stage, in the module's named_parameters() order.</summary>
    public IReadOnlyList<string> LayoutNames { get; }

    /// <summary>True when the trainable set never changes during the run.</summary>
    public bool Fixed => Starts.Count == 1;

    /// <summary>
    /// Replays the model's freeze schedule stage by stage to collect each stage's trainable set,
    /// then leaves the model frozen as at <paramref name="step"/>.
    /// </summary>
    public static FreezeStages Of(ITrainableModel model, long step = 0)
    {
        var starts = new List<long> { 0 };
        foreach (var start in model.FreezeStageStarts)
        {
            if (start <= starts[^1])
                throw new ArgumentException($"freeze stage starts must be positive and increasing, got {string.Join(", ", model.FreezeStageStarts)}");
            starts.Add(start);
        }
        var named = model.Module.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        var trainable = new List<HashSet<string>>();
        foreach (var start in starts)
        {
            model.ApplyFreezeFor(start);
            trainable.Add(named.Where(p => p.parameter.requires_grad).Select(p => p.name).ToHashSet(StringComparer.Ordinal));
        }
        model.ApplyFreezeFor(step);
        var layoutNames = named.Select(p => p.name).Where(n => trainable.Any(set => set.Contains(n))).ToList();
        if (layoutNames.Count == 0)
            throw new InvalidOperationException("the model has no trainable parameters in any freeze stage (every parameter has requires_grad = false)");
        var active = trainable.Select(set => layoutNames.Select(set.Contains).ToArray()).ToArray();
        return new FreezeStages(starts, layoutNames, active);
    }

    /// <summary>The stage in force at <paramref name="step"/>.</summary>
    public int StageAt(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        var stage = 0;
        while (stage + 1 < Starts.Count && Starts[stage + 1] <= step) stage++;
        return stage;
    }

    /// <summary>Whether layout entry <paramref name="entry"/> trains in <paramref name="stage"/>.</summary>
    public bool IsActive(int stage, int entry) => _active[stage][entry];

    /// <summary>Optimizer updates layout entry <paramref name="entry"/> received in steps [0, <paramref name="step"/>).</summary>
    public long UpdatesBefore(int entry, long step)
    {
        long updates = 0;
        for (var k = 0; k < Starts.Count && Starts[k] < step; k++)
        {
            if (!_active[k][entry]) continue;
            var end = k + 1 < Starts.Count ? Math.Min(Starts[k + 1], step) : step;
            updates += end - Starts[k];
        }
        return updates;
    }

    /// <summary>
    /// The parts of the shard [<paramref name="shardStart"/>, +<paramref name="shardLength"/>) that train in
    /// <paramref name="stage"/>, as runs of neighbouring entries that missed the same number of steps
    /// (<see cref="ShardSegmentPlan.Lag"/>), offsets relative to the shard. Null when the whole shard trains
    /// with no lag (every stage of a run without a schedule): the optimizer's single-tensor fast path.
    /// </summary>
    public IReadOnlyList<ShardSegmentPlan>? Segments(int stage, IReadOnlyList<FlatParameter> entries, long shardStart, long shardLength)
    {
        var start = Starts[stage];
        var plans = new List<ShardSegmentPlan>();
        var everyEntryTrainsWithoutLag = true;
        for (var e = 0; e < entries.Count; e++)
        {
            var lag = start - UpdatesBefore(e, start);
            if (!_active[stage][e] || lag != 0) everyEntryTrainsWithoutLag = false;
            if (!_active[stage][e]) continue;
            var from = Math.Max(entries[e].Offset, shardStart);
            var to = Math.Min(entries[e].Offset + entries[e].Numel, shardStart + shardLength);
            if (from >= to) continue;
            var offset = from - shardStart;
            if (plans.Count > 0 && plans[^1].Lag == lag && plans[^1].Offset + plans[^1].Length == offset)
                plans[^1] = plans[^1] with { Length = plans[^1].Length + (to - from) };
            else
                plans.Add(new ShardSegmentPlan(offset, to - from, lag));
        }
        return everyEntryTrainsWithoutLag ? null : plans;
    }
}

/// <summary>
/// A run of a rank's shard that trains in the current freeze stage. <see cref="Lag"/> is how many
/// earlier steps it sat frozen, so its bias-correction step at global step S is S + 1 - Lag.
/// </summary>
public readonly record struct ShardSegmentPlan(long Offset, long Length, long Lag);
