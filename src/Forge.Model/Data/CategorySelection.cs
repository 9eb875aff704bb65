namespace Forge.Model.Data;

/// <summary>
/// data.categories: the rows of a manifest whose "category" is one of the listed ones; an empty list
/// keeps every row. Training and both held-out tests select the same way, so a demo over a named part of
/// a data set (the emoji without "People &amp; Body", say) trains and is tested on that part alone.
/// <para>
/// A listed category must be the category of some training row: a misspelt one would otherwise
/// quietly train on less than the config says. A held-out set may lack one (a small test set need not
/// have every category). A row without a category cannot be placed, so a selection over it fails
/// naming the row.
/// </para>
/// </summary>
public static class CategorySelection
{
    public const string Key = "data.categories";

    /// <summary>The training rows in <paramref name="categories"/>; each listed category must have some.</summary>
    public static ImageTextManifest Training(ImageTextManifest training, IReadOnlyList<string> categories)
    {
        if (categories.Count == 0) return training;
        RequireCategories(training);
        var absent = categories.Where(c => !training.Samples.Any(s => s.Category == c)).ToList();
        if (absent.Count > 0)
            throw new InvalidDataException(
                $"{Key}: {Quoted(absent)} is the category of no row of {training.Path} (data.manifest); its categories are {Present(training)}");
        return Select(training, categories);
    }

    /// <summary>The held-out rows in <paramref name="categories"/>; a listed category it lacks is no error.</summary>
    public static ImageTextManifest HeldOut(ImageTextManifest heldOut, IReadOnlyList<string> categories)
    {
        if (categories.Count == 0) return heldOut;
        RequireCategories(heldOut);
        return Select(heldOut, categories);
    }

    private static ImageTextManifest Select(ImageTextManifest manifest, IReadOnlyList<string> categories)
    {
        var keep = categories.ToHashSet(StringComparer.Ordinal);
        return manifest.Where(s => keep.Contains(s.Category!), $"in the categories of {Key} ({Quoted(categories)}); its categories are {Present(manifest)}");
    }

    private static string Present(ImageTextManifest manifest) =>
        Quoted(manifest.Samples.Select(s => s.Category!).Distinct().Order(StringComparer.Ordinal));

    private static string Quoted(IEnumerable<string> categories) => string.Join(", ", categories.Select(c => $"\"{c}\""));

    private static void RequireCategories(ImageTextManifest manifest)
    {
        var unplaced = manifest.Samples.FirstOrDefault(s => s.Category is null);
        if (unplaced is not null)
            throw new InvalidDataException(
                $"{unplaced.Origin}: the row has no \"category\" (a non-empty string), which {Key} selects rows by; " +
                $"give every row one or set {Key} = [] to keep all rows");
    }
}
