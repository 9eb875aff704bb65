using Forge.Model.Evaluation;

namespace Forge.Model.Tests.Evaluation;

/// <summary>Caption scores on captions of the kind the demo writes (distances counted by hand).</summary>
public sealed class CaptionScoreTests
{
    [Theory]
    [InlineData("grinning face", "grinning face", true)]
    [InlineData("grinning face", "grinning face ", false)]   // a trailing space is a different caption
    [InlineData("grinning face", "Grinning face", false)]    // captions are lower-case names: case counts
    [InlineData("man", "person in steamy room", false)]
    [InlineData("", "", true)]
    public void ExactMatchIsOrdinalEquality(string reference, string generated, bool expected) =>
        Assert.Equal(expected, CaptionScore.ExactMatch(reference, generated));

    [Theory]
    // kitten -> sitting: k->s, e->i, +g: 3 edits over 7 characters.
    [InlineData("kitten", "sitting", 1 - 3.0 / 7)]
    // One dropped letter out of 27.
    [InlineData("grinning face with big eyes", "grinning face with big eye", 1 - 1.0 / 27)]
    // up -> down: u->d, p->o, +w, +n over 32 characters: the skin tone and the rest are right.
    [InlineData("thumbs up sign, dark skin tone", "thumbs down sign, dark skin tone", 1 - 4.0 / 32)]
    // "biking" -> "fairy": 5 edits over 27 characters.
    [InlineData("man biking, light skin tone", "man fairy, light skin tone", 1 - 5.0 / 27)]
    // Nothing of "man" survives in place: 20 edits over 21 characters.
    [InlineData("man", "person in steamy room", 1 - 20.0 / 21)]
    [InlineData("eject button", "eject button", 1.0)]
    [InlineData("eject button", "", 0.0)]
    [InlineData("", "", 1.0)]
    public void SimilarityIsOneMinusEditDistanceOverTheLongerCaption(string reference, string generated, double expected) =>
        Assert.Equal(expected, CaptionScore.Similarity(reference, generated), 12);

    [Theory]
    [InlineData("kitten", "sitting")]
    [InlineData("man", "person in steamy room")]
    [InlineData("a", "")]
    public void SimilarityIsSymmetricAndWithinZeroAndOne(string a, string b)
    {
        Assert.Equal(CaptionScore.Similarity(a, b), CaptionScore.Similarity(b, a));
        Assert.InRange(CaptionScore.Similarity(a, b), 0.0, 1.0);
    }

    [Fact]
    public void ScoresAreTheExactShareAndTheMeanSimilarity()
    {
        var scores = CaptionScores.Of(
        [
            new GeneratedCaption("a.png", "eject button", "eject button"),
            new GeneratedCaption("b.png", "kitten", "sitting"),
            new GeneratedCaption("c.png", "eject button", ""),
            new GeneratedCaption("d.png", "man", "man"),
        ]);

        Assert.Equal(4, scores.Samples);
        Assert.Equal(0.5, scores.ExactMatch);
        Assert.Equal((1 + (1 - 3.0 / 7) + 0 + 1) / 4, scores.Similarity, 12);
    }

    [Fact]
    public void NoCaptionsHaveNoScore() => Assert.Throws<ArgumentException>(() => CaptionScores.Of([]));
}
