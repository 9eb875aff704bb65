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

    private static void AssertSameValuesAndGradients(Tensor fused, Tensor plain, Tensor[] inputs, long seed)
    {
        Assert.True(fused.allclose(plain, rtol: 1e-5, atol: 1e-6), $"values differ by {(fused - plain).abs().max().item<float>()}");
        using var probe = randn(fused.shape, generator: new Generator((ulong)seed));
        var a = autograd.grad([fused], inputs, [probe]);
        var b = autograd.grad([plain], inputs, [probe]);
        for (var i = 0; i < inputs.Length; i++)
            Assert.True(a[i].allclose(b[i], rtol: 1e-4, atol: 1e-5), $"gradient {i} differs by {(a[i] - b[i]).abs().max().item<float>()}");
    }

    [Fact]
    public void GroupedQuerySdpaEqualsAttentionOverRepeatedKvHeads()
    {
        foreach (var causal in new[] { true, false })
        {
            using var q = randn(2, 6, 5, 8, generator: new Generator(4)).requires_grad_();
            using var k = randn(2, 3, 7, 8, generator: new Generator(5)).requires_grad_();
            using var v = randn(2, 3, 7, 8, generator: new Generator(6)).requires_grad_();
            var grouped = AtenKernels.SdpaGroupedQuery(q, k, v, causal);
            // RepeatKv works in the (B, S, H, d) layout of the projections.
            var kr = GroupedQuery.RepeatKv(k.transpose(1, 2), 2).transpose(1, 2);
            var vr = GroupedQuery.RepeatKv(v.transpose(1, 2), 2).transpose(1, 2);
            var repeated = nn.functional.scaled_dot_product_attention(q, kr, vr, is_casual: causal);
            AssertSameValuesAndGradients(grouped, repeated, [q, k, v], 7);
        }
    }

    [Fact]
    public void TorchScriptRopeEqualsTheComposedRotation()
    {
        using var x = randn(2, 5, 3, 8, generator: new Generator(8)).requires_grad_();
        using var cos = randn(5, 1, 8, generator: new Generator(9));
        using var sin = randn(5, 1, 8, generator: new Generator(10));
        var halves = x.chunk(2, -1);
        var composed = x.mul(cos).add(cat([halves[1], halves[0]], -1).mul(sin));
        AssertSameValuesAndGradients(AtenKernels.Rope(x, cos, sin), composed, [x], 11);
    }

    [Fact]
    public void TorchScriptSwiGluEqualsSiluTimesUp()
    {
        using var gate = randn(4, 6, generator: new Generator(12)).requires_grad_();
        using var up = randn(4, 6, generator: new Generator(13)).requires_grad_();
        AssertSameValuesAndGradients(AtenKernels.SwiGlu(gate, up), nn.functional.silu(gate).mul(up), [gate, up], 14);
    }
}
