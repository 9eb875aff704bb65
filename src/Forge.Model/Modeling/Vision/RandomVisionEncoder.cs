using TorchSharp;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling.Vision;

/// <summary>
/// A parameter-free stand-in encoder for benchmarks that measure the language side alone: a fixed
/// seeded basis (NumTokens, FeatureDim) scaled per image by one plus its mean pixel, so features are
/// deterministic, cheap, of the configured shape, and still differ between images.
/// </summary>
public sealed class RandomVisionEncoder : VisionEncoder
{
    private readonly Tensor _basis;

    public override int NumTokens { get; }
    public override int FeatureDim { get; }

    public RandomVisionEncoder(int numTokens, int featureDim, long seed, Device device) : base(nameof(RandomVisionEncoder))
    {
        NumTokens = numTokens;
        FeatureDim = featureDim;
        var generator = new Generator((ulong)seed);
        _basis = randn([numTokens, featureDim], generator: generator).to(device);
        // No RegisterComponents: the basis is not state (it is a function of the seed), so it must
        // not appear in the state dict nor be cast by module.to().
    }

    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var b = images.shape[0];
        var scale = images.to(ScalarType.Float32).mean([1, 2, 3]).PlusScalar(1.0).view(b, 1, 1);
        return _basis.to(images.device).unsqueeze(0).mul(scale).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _basis.Dispose();
        base.Dispose(disposing);
    }
}
