using Forge.Model.Config;
using Forge.Model.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Vision;

/// <summary>
/// What the grid encoders (<see cref="VitEncoder"/>, <see cref="CnnEncoder"/>) share once an image is a
/// (B, F, g, g) grid of cells: its size checks, and the cells as row-major tokens with learned positions
/// through ViT blocks and a final norm. Each encoder owns its modules (their names are the checkpoint's).
/// </summary>
internal static class TokenGrid
{
    /// <summary>The grid side; an error names the keys when image_size is not a multiple of patch_size.</summary>
    public static int Side(VisionEncoderConfig config) => config.ImageSize % config.PatchSize == 0
        ? config.ImageSize / config.PatchSize
        : throw new ArgumentException($"vision_encoder.image_size {config.ImageSize} is not a multiple of vision_encoder.patch_size {config.PatchSize}");

    /// <summary>The token count, g²; an error says what `emitter` (e.g. "a ViT over 64px images with 8px patches") emits instead.</summary>
    public static int Tokens(VisionEncoderConfig config, int side, string emitter) => config.NumTokens == side * side
        ? side * side
        : throw new ArgumentException($"vision_encoder.num_tokens is {config.NumTokens} but {emitter} emits {side * side}");

    public static void CheckImages(Tensor images, int imageSize)
    {
        if (images.shape[2] != imageSize || images.shape[3] != imageSize)
            throw new ArgumentException($"images are {images.shape[2]}x{images.shape[3]} but vision_encoder.image_size is {imageSize}");
    }

    /// <summary>(B, F, g, g) cells to (B, N, F) features; call inside the encoder's dispose scope.</summary>
    public static Tensor Encode(Tensor cells, Parameter positions, ModuleList<VitBlock> blocks, LayerNorm norm)
    {
        var h = cells.flatten(2).transpose(1, 2).Plus(positions);
        foreach (var block in blocks) h = block.forward(h);
        return norm.forward(h);
    }
}
