using Forge.Model.Config;

namespace Forge.Model.Data;

/// <summary>
/// The unseen-art test set: rows of another artist's manifest (data.unseen_art_manifest, e.g. the
/// twitter emoji) whose caption is one the training manifest teaches, so every name is known and only
/// the drawing is new. A model that reads the picture captions these; one that memorised its training
/// images does not. Rows with names the training set lacks are left out (they belong to the
/// unseen-names test), and so is any image file the training manifest itself lists. With several
/// training manifests (several vendors), a name any of them teaches counts, and no image of any.
/// </summary>
public static class UnseenArtManifest
{
    public static ImageTextManifest Select(ImageTextManifest art, ImageTextManifest training)
    {
        var names = training.Samples.Select(s => s.Caption).ToHashSet(StringComparer.Ordinal);
        var images = training.Samples.Select(s => Path.GetFullPath(s.ImagePath)).ToHashSet(StringComparer.Ordinal);
        return art.Where(s => names.Contains(s.Caption) && !images.Contains(Path.GetFullPath(s.ImagePath)),
            $"for the unseen-art test: no row has a caption of {training.Path} (data.manifest) with an image of its own");
    }

    /// <summary>
    /// The unseen-art rows of data.unseen_art_manifest against the training set of all of data.manifest,
    /// both in the categories of data.categories (see <see cref="CategorySelection"/>).
    /// </summary>
    public static ImageTextManifest Load(DataConfig data) => Select(
        CategorySelection.HeldOut(ImageTextManifest.Load(data.UnseenArtManifest, data.SkipBadSamples), data.Categories),
        CategorySelection.Training(ImageTextManifest.Load(data.Manifests, data.SkipBadSamples), data.Categories));
}
