using Forge.Model.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Modeling;

public class AtenKernelsTests
{
    [Fact]
    public void FusedRmsNormMatchesTheDefinitionAndItsGradient()
    {
        using var x = randn(3, 5, 16, generator: new Generator(1)).requires_grad_();
        using var w = randn(16, generator: new Generator(2)).requires_grad_();
        using var y = AtenKernels.RmsNorm(x, w, 1e-5);
        using var reference = RmsNorm.Composed(x, w, 1e-5);
        using var definition = x.mul(x.pow(2).mean([-1], keepdim: true).add(1e-5).rsqrt()).mul(w);
        Assert.True(reference.allclose(definition, rtol: 1e-5, atol: 1e-6));
        Assert.True(y.allclose(reference, rtol: 1e-5, atol: 1e-6));
        using var probe = randn(3, 5, 16, generator: new Generator(3));
        var fused = autograd.grad([y], [x, w], [probe]);
        var plain = autograd.grad([reference], [x, w], [probe]);
        Assert.True(fused[0].allclose(plain[0], rtol: 1e-4, atol: 1e-5));
        Assert.True(fused[1].allclose(plain[1], rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void KernelResultsBelongToTheCallersDisposeScope()
    {
        // A result that escaped the step's scope would leak device memory every step.
        using var x = randn(2, 8);
        using var w = ones(8);
        Tensor y;
        using (var scope = NewDisposeScope())
        {
            y = AtenKernels.RmsNorm(x, w, 1e-5);
            Assert.False(y.IsInvalid);
        }
        Assert.True(y.IsInvalid);
    }
}
