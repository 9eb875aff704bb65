using TorchSharp;
using static TorchSharp.torch;
using Forge.Model.Runtime;
using Forge.Model.Text;

namespace Forge.Model.Data;

/// <summary>
/// One micro-batch as the model consumes it. Shapes are fixed by config (image size, max_text_len)
/// so every rank sees the same shapes.
/// <list type="bullet">
/// <item><c>Images</c>: (B, 3, H, W) float32, normalised.</item>
/// <item><c>InputIds</c>: (B, T) int64: BOS, optional prompt, caption, EOS, then pad.</item>
/// <item><c>Labels</c>: (B, T) int64, aligned with InputIds (NOT shifted): the token at each
///   position, or <see cref="CaptionEncoder.IgnoreIndex"/> at BOS/prompt/pad positions. The loss shifts: logits at t predict labels at t+1.</item>
/// <item><c>ImageMask</c>: optional (B, image tokens) bool, true = attend.</item>
/// <item><c>SampleIndices</c>: the global sample index of each row (for the sampler tests and logs).</item>
/// </list>
/// </summary>
public sealed class ImageTextBatch : IDisposable
{
    public required Tensor Images { get; init; }
    public required Tensor InputIds { get; init; }
    public required Tensor Labels { get; init; }
    public Tensor? ImageMask { get; init; }
    public required long[] SampleIndices { get; init; }

    public int Size => (int)InputIds.shape[0];

    /// <summary>Number of positions that carry a loss after the shift (labels[:, 1:] != IgnoreIndex).</summary>
    public long TargetTokens()
    {
        using var _ = NewDisposeScope();
        return Labels[TensorIndex.Colon, TensorIndex.Slice(1)].NotEqualTo(CaptionEncoder.IgnoreIndex).sum().item<long>();
    }

    public ImageTextBatch To(Device device) => new()
    {
        Images = Images.to(device),
        InputIds = InputIds.to(device),
        Labels = Labels.to(device),
        ImageMask = ImageMask?.to(device),
        SampleIndices = SampleIndices,
    };

    public void Dispose()
    {
        Images.Dispose();
        InputIds.Dispose();
        Labels.Dispose();
        ImageMask?.Dispose();
    }
}
