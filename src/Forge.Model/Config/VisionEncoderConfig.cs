namespace Forge.Model.Config;

/// <summary>
/// `[vision_encoder]`: "vit" is a trainable ViT (patch embedding, learned positions, pre-norm
/// blocks); "random" is a deterministic stub producing features of the configured shape, for
/// benchmarks that measure the language side alone.
/// </summary>
public sealed record VisionEncoderConfig
{
    public const string Vit = "vit";
    public const string Random = "random";
    /// <summary>The `type` names: validation accepts exactly these and VlmRegistry builds each.</summary>
    public static IReadOnlyList<string> Types { get; } = [Vit, Random];

    public string Type { get; init; } = Vit;
    /// <summary>Width of the features the encoder emits (the adapter's input).</summary>
    public int FeatureDim { get; init; } = 128;
    /// <summary>Image tokens per image. For "vit" it must equal (image_size / patch_size)^2.</summary>
    public int NumTokens { get; init; } = 64;
    public int ImageSize { get; init; } = 64;
    public int PatchSize { get; init; } = 8;
    public int NLayers { get; init; } = 2;
    public int NHeads { get; init; } = 4;
    public int MlpRatio { get; init; } = 4;
}
