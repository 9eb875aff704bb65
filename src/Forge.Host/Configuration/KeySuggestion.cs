namespace Forge.Host.Configuration;

/// <summary>"Did you mean" for misspelt keys and names: the closest candidate by edit distance.</summary>
public static class KeySuggestion
{
    /// <summary>
    /// The candidate nearest to <paramref name="written"/>, or null when none is close enough to be a
    /// plausible typo (at most a third of the word's length, and at least one edit, may differ).
    /// </summary>
    public static string? Closest(string written, IEnumerable<string> candidates)
    {
        var budget = Math.Max(1, written.Length / 3);
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var distance = EditDistance(written, candidate);
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }
        return bestDistance <= budget ? best : null;
    }

    /// <summary>
    /// Optimal string alignment distance: insertions, deletions, substitutions and adjacent
    /// transpositions each cost one, so "n_haeds" is one edit from "n_heads".
    /// </summary>
    public static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        for (var j = 1; j <= b.Length; j++)
        {
            var cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
        }
        return d[a.Length, b.Length];
    }
}
