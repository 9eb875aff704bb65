using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Vision;

/// <summary>Images (B, 3, H, W) to features (B, NumTokens, FeatureDim).</summary>
public abstract class VisionEncoder(string name) : nn.Module<Tensor, Tensor>(name)
{
    public abstract int NumTokens { get; }
    public abstract int FeatureDim { get; }
}
