namespace Forge.Model.Config;

/// <summary>`[data]`: an image-text data set (JSONL manifest plus images) and its tokenizer.</summary>
public sealed record DataConfig
{
    /// <summary>The `emoji_vendor` names; scripts/fetch-emoji.sh converts exactly these.</summary>
    public static IReadOnlyList<string> EmojiVendors { get; } = ["google", "twitter", "apple", "facebook", "emojione", "messenger", "facebook-2018"];

    /// <summary>
    /// The training manifests, paths relative to the working directory or absolute, whose rows train as one
    /// set (several vendors' drawings of the same emoji, say). TOML key `manifest`: one path or a list.
    /// </summary>
    [OneOrMany]
    public IReadOnlyList<string> Manifests { get; init; } = ["data/emoji-google/train.jsonl"];
    /// <summary>Held-out manifest for eval and caption samples (the unseen-names test); empty for none.</summary>
    public string EvalManifest { get; init; } = "data/emoji-google/eval.jsonl";
    /// <summary>
    /// The unseen-art test: a manifest of other art (another emoji vendor) whose rows with a caption of
    /// <see cref="Manifests"/> are scored; empty for none.
    /// </summary>
    public string UnseenArtManifest { get; init; } = "";
    /// <summary>
    /// The manifest categories (each row's "category") that training and both held-out tests keep; empty
    /// keeps every row. See Data.CategorySelection.
    /// </summary>
    public IReadOnlyList<string> Categories { get; init; } = [];
    /// <summary>"byte" (tiny models) or a tiktoken BPE: "cl100k_base", "o200k_base" (the names of Text.TokenizerCatalog).</summary>
    public string Tokenizer { get; init; } = "byte";
    public int ImageSize { get; init; } = 64;
    public IReadOnlyList<double> Mean { get; init; } = [0.5, 0.5, 0.5];
    public IReadOnlyList<double> Std { get; init; } = [0.5, 0.5, 0.5];
    /// <summary>Seed of the per-epoch sample permutation (independent of the model seed).</summary>
    public long Seed { get; init; } = 1234;
    /// <summary>Skip and count corrupt images or malformed lines instead of failing.</summary>
    public bool SkipBadSamples { get; init; }
    /// <summary>Background decode threads; 0 means min(4, cores).</summary>
    public int NumWorkers { get; init; }
    /// <summary>Batches decoded ahead of the step that needs them.</summary>
    public int Prefetch { get; init; } = 4;
    /// <summary>Training-image augmentation (see ImageAugmentation): the smallest random square crop, as a fraction of the side; 1 = none.</summary>
    public double AugmentCrop { get; init; } = 1.0;
    /// <summary>Largest random Gaussian blur sigma, in image pixels; 0 = none.</summary>
    public double AugmentBlur { get; init; }
    /// <summary>Largest random brightness, contrast and saturation change, as a fraction (0.2 = ±20%); 0 = none.</summary>
    public double AugmentColour { get; init; }
    /// <summary>Probability that a training image is mirrored left to right; 0 = never.</summary>
    public double AugmentFlip { get; init; }
    /// <summary>Emoji art vendor the setup converts: google, twitter, apple, facebook, emojione, messenger or facebook-2018 (see scripts/fetch-emoji.sh).</summary>
    public string EmojiVendor { get; init; } = "google";
}
