namespace Forge.Model.Evaluation;

/// <summary>
/// Held-out loss as a sum and a token count, so per-rank parts add up (<see cref="Plus"/>, or an
/// all-reduce of both numbers) to the same mean a single rank would compute.
/// </summary>
public sealed record EvalResult(double LossSum, long Tokens, int Samples)
{
    public static EvalResult Empty { get; } = new(0, 0, 0);

    /// <summary>Mean next-token cross-entropy per target token (NaN when no tokens were seen).</summary>
    public double MeanLoss => Tokens == 0 ? double.NaN : LossSum / Tokens;

    public double Perplexity => Math.Exp(MeanLoss);

    public EvalResult Plus(EvalResult other) => new(LossSum + other.LossSum, Tokens + other.Tokens, Samples + other.Samples);
}
