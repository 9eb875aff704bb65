namespace Forge.Model.Evaluation;

/// <summary>The held-out tests' caption scores at the end of a run; null for a test that is not configured (see <see cref="HeldOutLosses"/>).</summary>
public sealed record HeldOutScores(CaptionScores? UnseenNames, CaptionScores? UnseenArt);
