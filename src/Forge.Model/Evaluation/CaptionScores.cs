namespace Forge.Model.Evaluation;

/// <summary>
/// A held-out test's caption scores over <paramref name="Samples"/> greedily captioned images: the share
/// generated exactly (<see cref="CaptionScore.ExactMatch"/>) and the mean <see cref="CaptionScore.Similarity"/>.
/// </summary>
public sealed record CaptionScores(int Samples, double ExactMatch, double Similarity)
{
    public static CaptionScores Of(IReadOnlyCollection<GeneratedCaption> captions)
    {
        if (captions.Count == 0) throw new ArgumentException("no captions to score", nameof(captions));
        return new CaptionScores(
            captions.Count,
            captions.Count(c => CaptionScore.ExactMatch(c.Reference, c.Generated)) / (double)captions.Count,
            captions.Average(c => CaptionScore.Similarity(c.Reference, c.Generated)));
    }
}
