using Forge.Model.Config;
using Forge.Model.Data;

namespace Forge.Model.Evaluation;

/// <summary>
/// Opens the two held-out tests of a job config, each null when its manifest is empty: unseen names
/// (data.eval_manifest) and unseen art (data.unseen_art_manifest restricted to the names of
/// data.manifest, see <see cref="UnseenArtManifest"/>), both in the categories of data.categories, as
/// training is. Training and the end-of-run report open them
/// the same way, so the rows and their order agree.
/// </summary>
public static class HeldOutTests
{
    public static HeldOutEvaluator? UnseenNames(JobConfig config) =>
        string.IsNullOrWhiteSpace(config.Data.EvalManifest)
            ? null
            : new HeldOutEvaluator(ImageTextDataset.Open(
                CategorySelection.HeldOut(ImageTextManifest.Load(config.Data.EvalManifest, config.Data.SkipBadSamples), config.Data.Categories),
                config.Data, config.Vlm.MaxTextLen), config.Data.Seed);

    public static HeldOutEvaluator? UnseenArt(JobConfig config) =>
        string.IsNullOrWhiteSpace(config.Data.UnseenArtManifest)
            ? null
            : new HeldOutEvaluator(ImageTextDataset.Open(
                UnseenArtManifest.Load(config.Data),
                config.Data, config.Vlm.MaxTextLen), config.Data.Seed);
}
