using Quickenshtein;

namespace Forge.Model.Evaluation;

/// <summary>
/// How close a generated caption is to its reference. Exact match is the strict test (a name is
/// right or it is not); similarity gives credit for a nearly right name ("grinning face with big
/// eye" for "grinning face with big eyes"), so a model that reads the picture but misspells shows
/// apart from one that writes an unrelated name.
/// </summary>
public static class CaptionScore
{
    /// <summary>The same text, ordinal (captions are lower-case names; case or a space is a difference).</summary>
    public static bool ExactMatch(string reference, string generated) => string.Equals(reference, generated, StringComparison.Ordinal);

    /// <summary>
    /// 1 - Levenshtein(reference, generated) / max(lengths), in [0, 1]: 1 for identical captions, 0 when no
    /// character can be kept. Two empty captions are identical.
    /// </summary>
    public static double Similarity(string reference, string generated)
    {
        var longest = Math.Max(reference.Length, generated.Length);
        return longest == 0 ? 1.0 : 1.0 - (double)Levenshtein.GetDistance(reference, generated) / longest;
    }
}
