namespace Forge.Host.Output;

/// <summary>One line of metrics.jsonl: a logged step (Loss set) or an eval (EvalLoss set).</summary>
public sealed record MetricsPoint(
    long Step,
    double? Loss,
    double? EvalLoss,
    double? LearningRate,
    double? GradNorm,
    double? TokensPerSecond,
    int? WorldSize,
    double? WallSeconds);
