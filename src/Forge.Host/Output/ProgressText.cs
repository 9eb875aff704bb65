using System.Globalization;
using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Model.Evaluation;

namespace Forge.Host.Output;

/// <summary>How progress reads, shared by the live bar and the plain log lines.</summary>
public static class ProgressText
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Step(StepReport r, long maxSteps) =>
        string.Create(Invariant, $"step {r.StepsDone}/{maxSteps}  loss {r.Loss:F4}  lr {r.LearningRate:0.0e+0}  grad {r.GradNorm:F2}  {Rate(r.TokensPerSecond)}  world {r.WorldSize}");

    /// <summary>The live bar's description: short enough to leave an 80-column terminal room for the bar and the time left.</summary>
    public static string Compact(StepReport r, long maxSteps) =>
        string.Create(Invariant, $"step {r.StepsDone}/{maxSteps}  loss {r.Loss:F4}  {Rate(r.TokensPerSecond)}");

    /// <summary>"loss" is the unseen-names test (data.eval_manifest), "art loss" the unseen-art test; a test not configured is left out.</summary>
    public static string Eval(long step, HeldOutLosses losses)
    {
        var text = string.Create(Invariant, $"step {step}");
        if (losses.UnseenNames is { } names) text += string.Create(Invariant, $"  loss {names:F4}");
        if (losses.UnseenArt is { } art) text += string.Create(Invariant, $"  art loss {art:F4}");
        return text;
    }

    public static string Rate(double tokensPerSecond) => tokensPerSecond switch
    {
        >= 1e6 => string.Create(Invariant, $"{tokensPerSecond / 1e6:F2}M tok/s"),
        >= 1e4 => string.Create(Invariant, $"{tokensPerSecond / 1e3:F1}k tok/s"),
        _ => string.Create(Invariant, $"{tokensPerSecond:F0} tok/s"),
    };

    public static string Duration(TimeSpan? span) => span switch
    {
        null => "--",
        { TotalHours: >= 1 } t => $"{(int)t.TotalHours}h{t.Minutes:D2}m",
        { TotalMinutes: >= 1 } t => $"{t.Minutes}m{t.Seconds:D2}s",
        { } t => $"{t.Seconds}s",
    };

    public static string Started(JobStarted s) => string.Create(Invariant,
        $"{(s.StartStep > 0 ? "resuming" : "starting")} {s.RunName}: {s.WorldSize} rank(s), step {s.StartStep} of {s.MaxSteps}, {s.TrainableParameters:N0} trainable parameters");

    public static string Finished(JobFinished f) =>
        f.Error is not null ? $"failed at step {f.FinalStep}: {f.Error}"
        : f.Completed ? $"finished at step {f.FinalStep}"
        : $"stopped at step {f.FinalStep}";
}
