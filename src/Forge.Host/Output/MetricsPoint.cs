namespace Forge.Host.Output;

/// <summary>
/// One line of metrics.jsonl: a logged step (Loss set), an eval (EvalLoss for the unseen-names test,
/// EvalArtLoss for the unseen-art test) or the end-of-run caption scores (the exact-match share and
/// mean similarity of each test).
/// </summary>
public sealed record MetricsPoint(
    long Step,
    double? Loss,
    double? EvalLoss,
    double? LearningRate,
    double? GradNorm,
    double? TokensPerSecond,
    int? WorldSize,
    double? WallSeconds,
    double? EvalArtLoss = null,
    double? EvalExactMatch = null,
    double? EvalSimilarity = null,
    double? EvalArtExactMatch = null,
    double? EvalArtSimilarity = null)
{
    /// <summary>Either test's caption scores are on this line.</summary>
    public bool HasCaptionScores => EvalExactMatch is not null || EvalArtExactMatch is not null;
}
