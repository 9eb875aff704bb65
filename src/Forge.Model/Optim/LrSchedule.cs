using Forge.Model.Config;

namespace Forge.Model.Optim;

/// <summary>
/// The learning rate at each optimizer step (0-based): a linear warmup from lr/warmup to lr over
/// `warmup_steps`, then "cosine" (half a cosine down to lr * min_lr_ratio), "linear" (a straight
/// line to lr * min_lr_ratio) or "constant". Decay spans `decay_steps`, or the steps left after
/// warmup when that is 0; past its end the rate stays at the floor. Pure: resuming at step s gives
/// exactly the rate an uninterrupted run would have used.
/// </summary>
public sealed class LrSchedule
{
    private readonly string _name;
    private readonly double _baseLr;
    private readonly long _warmup;
    private readonly long _decay;
    private readonly double _minRatio;

    public LrSchedule(SchedulerConfig scheduler, double baseLr, long maxSteps)
    {
        _name = scheduler.Name;
        if (!SchedulerConfig.Names.Contains(_name))
            throw new ArgumentException($"scheduler.name = '{scheduler.Name}': expected one of {string.Join(", ", SchedulerConfig.Names)}");
        if (baseLr <= 0 || double.IsNaN(baseLr)) throw new ArgumentException($"optimizer.lr = {baseLr}: expected a positive number");
        if (scheduler.WarmupSteps < 0) throw new ArgumentException($"scheduler.warmup_steps = {scheduler.WarmupSteps}: expected 0 or more");
        if (scheduler.DecaySteps < 0) throw new ArgumentException($"scheduler.decay_steps = {scheduler.DecaySteps}: expected 0 or more");
        if (scheduler.MinLrRatio is < 0 or > 1) throw new ArgumentException($"scheduler.min_lr_ratio = {scheduler.MinLrRatio}: expected a value in [0, 1]");
        _baseLr = baseLr;
        _warmup = scheduler.WarmupSteps;
        _decay = scheduler.DecaySteps > 0 ? scheduler.DecaySteps : Math.Max(1, maxSteps - _warmup);
        _minRatio = scheduler.MinLrRatio;
    }

    public double At(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "steps are 0-based");
        // (step + 1) so the first step already learns; step warmup - 1 reaches the full rate.
        if (step < _warmup) return _baseLr * (step + 1) / _warmup;
        var progress = Math.Min(1.0, (double)(step - _warmup) / _decay);
        var factor = _name switch
        {
            SchedulerConfig.Cosine => _minRatio + (1 - _minRatio) * 0.5 * (1 + Math.Cos(Math.PI * progress)),
            SchedulerConfig.Linear => _minRatio + (1 - _minRatio) * (1 - progress),
            _ => 1.0, // SchedulerConfig.Constant
        };
        return _baseLr * factor;
    }
}
