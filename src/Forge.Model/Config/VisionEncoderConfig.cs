namespace Forge.Model.Config;

/// <summary>
/// `[vision_encoder]`: "vit" is a trainable ViT (patch embedding, learned positions, pre-norm
/// blocks); "cnn" the same ViT with a convolutional stem in place of the linear patch projection; "random" is a deterministic stub producing features of the configured shape, for
/// benchmarks that measure the language side alone; "siglip" (also "siglip2") and "clip" are
/// pretrained Hugging Face towers read from <see cref="Path"/>.
/// </summary>
public sealed record VisionEncoderConfig
{
    public const string Vit = "vit";
    public const string Cnn = "cnn";
    public const string Random = "random";
    public const string Siglip = "siglip";
    /// <summary>KempnerForge's name for the fixed-resolution SigLIP 2 towers, which are SigLIP's architecture.</summary>
    public const string Siglip2 = "siglip2";
    public const string Clip = "clip";
    /// <summary>The `type` names: validation accepts exactly these and VlmRegistry builds each.</summary>
    public static IReadOnlyList<string> Types { get; } = [Vit, Cnn, Random, Siglip, Siglip2, Clip];

    public string Type { get; init; } = Vit;

    /// <summary>
    /// "vit" and "cnn" are built here from image_size, patch_size and num_tokens (and train from
    /// scratch), so their images must be image_size square; the others take their shape elsewhere.
    /// </summary>
    public bool IsBuiltFromShapeKeys => Type is Vit or Cnn;
    /// <summary>Width of the features the encoder emits (the adapter's input).</summary>
    public int FeatureDim { get; init; } = 128;
    /// <summary>Image tokens per image. For "vit" and "cnn" it must equal (image_size / patch_size)^2.</summary>
    public int NumTokens { get; init; } = 64;
    public int ImageSize { get; init; } = 64;
    /// <summary>The side of the square each token covers; for "cnn" a power of two (one stride-2 conv per halving).</summary>
    public int PatchSize { get; init; } = 8;
    /// <summary>ViT blocks (for "cnn", after the stem; 0 there is the stem alone).</summary>
    public int NLayers { get; init; } = 2;
    public int NHeads { get; init; } = 4;
    public int MlpRatio { get; init; } = 4;
    /// <summary>
    /// For "siglip", "siglip2" and "clip": the Hugging Face model directory of the pretrained tower
    /// (config.json, model.safetensors, preprocessor_config.json).
    /// </summary>
    public string Path { get; init; } = "";
}
