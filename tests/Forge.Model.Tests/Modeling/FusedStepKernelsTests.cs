using Forge.Model.Modeling;
using Forge.Model.Runtime;
using Forge.Model.Tests.Runtime;
using Forge.Model.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Modeling;

/// <summary>
/// The kernel levers' autograd functions (SwiGLU gate, RoPE) and the fused loss against the composed
/// ops they replace: on a CPU their torch-op formulas, on a GPU (opt-in) the NVRTC kernels in bf16.
/// </summary>
public class FusedStepKernelsTests
{
    private static readonly Device Gpu = new(DeviceType.CUDA, 0);

    private static (Tensor Value, Tensor[] Grads) ValueAndGrads(Func<Tensor[], Tensor> f, Tensor upstream, params Tensor[] inputs)
    {
        var leaves = inputs.Select(t => t.detach().clone().requires_grad_()).ToArray();
        var value = f(leaves);
        value.backward([upstream]);
        return (value.detach(), leaves.Select(l => l.grad!.clone()).ToArray());
    }

    private static void Close(Tensor actual, Tensor expected, double tolerance, string what) =>
        Assert.True(actual.to(ScalarType.Float32).allclose(expected.to(ScalarType.Float32), rtol: tolerance, atol: tolerance),
            $"{what}: max diff {(actual.to(ScalarType.Float32) - expected.to(ScalarType.Float32)).abs().max().item<float>()}");

    private static void SwiGluMatchesComposed(Device device, ScalarType dtype, double tolerance)
    {
        var generator = new Generator(3);
        var gate = randn([2, 5, 7], generator: generator).mul_(3).to(dtype, device);
        var up = randn([2, 5, 7], generator: generator).to(dtype, device);
        var upstream = randn([2, 5, 7], generator: generator).to(dtype, device);
        var (want, wantGrads) = ValueAndGrads(x => nn.functional.silu(x[0]).mul(x[1]), upstream, gate, up);
        var (got, gotGrads) = ValueAndGrads(x => SwiGluGate.Apply(x[0], x[1]), upstream, gate, up);
        Close(got, want, tolerance, "silu(gate) * up");
        Close(gotGrads[0], wantGrads[0], tolerance, "d/d gate");
        Close(gotGrads[1], wantGrads[1], tolerance, "d/d up");
    }

    private static void RopeMatchesComposed(Device device, ScalarType dtype, double tolerance)
    {
        using var rope = new RotaryEmbedding(headDim: 8, maxSeqLen: 16, theta: 10000, device);
        var generator = new Generator(4);
        var x = randn([2, 6, 3, 8], generator: generator).to(dtype, device);
        var upstream = randn([2, 6, 3, 8], generator: generator).to(dtype, device);
        var previous = StepKernels.Current;
        try
        {
            StepKernels.Current = StepKernels.None;
            var (want, wantGrads) = ValueAndGrads(t => rope.Apply(t[0]), upstream, x);
            StepKernels.Current = StepKernels.Only(StepKernels.RopeKernelName);
            var (got, gotGrads) = ValueAndGrads(t => rope.Apply(t[0]), upstream, x);
            Close(got, want, tolerance, "rotated x");
            Close(gotGrads[0], wantGrads[0], tolerance, "d/dx");
        }
        finally
        {
            StepKernels.Current = previous;
        }
    }

    [Fact]
    public void TheSwiGluGateFunctionHasTheValueAndGradientsOfTheComposedGate() => SwiGluMatchesComposed(CPU, ScalarType.Float32, 1e-5);

    [Fact]
    public void TheRopeFunctionHasTheValueAndGradientOfTheComposedRotation() => RopeMatchesComposed(CPU, ScalarType.Float32, 1e-5);

    [Fact]
    public void TheRopeFunctionRotatesEveryPositionByItsOwnAngle()
    {
        // A position-independent bug (e.g. the table row taken from the head index) would pass at one position.
        using var rope = new RotaryEmbedding(headDim: 4, maxSeqLen: 8, theta: 100, CPU);
        var x = ones([1, 5, 2, 4]);
        var previous = StepKernels.Current;
        try
        {
            StepKernels.Current = StepKernels.Only(StepKernels.RopeKernelName);
            var rotated = rope.Apply(x);
            for (var position = 1; position < 5; position++)
                Assert.False(rotated[0, position].allclose(rotated[0, position - 1]), $"positions {position - 1} and {position} rotate alike");
            Assert.True(rotated[0, 0].allclose(x[0, 0]), "position 0 is the identity");
        }
        finally
        {
            StepKernels.Current = previous;
        }
    }

    [Fact]
    public void TheFusedLossIsTheChunkedLossWhereItsKernelDoesNotApply()
    {
        var generator = new Generator(8);
        var hidden = randn([2, 7, 6], generator: generator).requires_grad_();
        var weight = randn([11, 6], generator: generator).requires_grad_();
        var labels = randint(0, 11, [2, 7], generator: generator);
        labels[TensorIndex.Colon, 0] = tensor(CaptionEncoder.IgnoreIndex);
        var (fused, tokens) = CaptionLoss.SumFused(hidden, weight, labels);
        var (chunked, chunkedTokens) = CaptionLoss.SumChunked(hidden, weight, labels);
        Assert.Equal(chunkedTokens, tokens);
        Assert.Equal(chunked.item<float>(), fused.item<float>(), 5);
    }

    private static (Tensor Input, Tensor Weight) ProjectionGradients(StepKernels levers, Tensor x, Tensor weight, Tensor upstream, Tensor? boundGrad)
    {
        using var layer = nn.Linear(weight.shape[1], weight.shape[0], hasBias: false);
        using (no_grad()) layer.weight!.copy_(weight);
        if (boundGrad is not null) layer.weight!.grad = boundGrad;
        var input = x.detach().clone().requires_grad_();
        var previous = StepKernels.Current;
        try
        {
            StepKernels.Current = levers;
            WeightGradGemm.Project(layer, input).backward([upstream]);
        }
        finally
        {
            StepKernels.Current = previous;
        }
        return (input.grad!.clone(), layer.weight!.grad!.clone());
    }

    [Fact]
    public void TheWeightGradGemmAddsTheWeightGradientIntoTheBoundGradientAsAutogradWould()
    {
        var generator = new Generator(12);
        var (x, weight, upstream) = (randn([2, 5, 6], generator: generator), randn([4, 6], generator: generator), randn([2, 5, 4], generator: generator));
        var earlier = randn([4, 6], generator: generator);
        // Bound to a view of a flat buffer that already holds a gradient (a second use, or accumulation).
        var wantFlat = cat([zeros(3), earlier.reshape(-1)]);
        var gotFlat = wantFlat.clone();
        var (wantInput, wantWeight) = ProjectionGradients(StepKernels.None, x, weight, upstream, wantFlat.narrow(0, 3, 24).view(4, 6));
        var (gotInput, gotWeight) = ProjectionGradients(StepKernels.Only(StepKernels.WeightGradGemmName), x, weight, upstream, gotFlat.narrow(0, 3, 24).view(4, 6));
        Close(gotInput, wantInput, 1e-5, "input grad");
        Close(gotWeight, wantWeight, 1e-5, "weight grad");
        Close(gotFlat, wantFlat, 1e-5, "flat gradient buffer");
        Assert.False(gotWeight.allclose(earlier), "the earlier gradient was accumulated into, not kept");
    }

    [Fact]
    public void WithNoBoundGradientTheWeightGradGemmHandsTheGradientToAutograd()
    {
        var generator = new Generator(13);
        var (x, weight, upstream) = (randn([3, 6], generator: generator), randn([4, 6], generator: generator), randn([3, 4], generator: generator));
        var (_, want) = ProjectionGradients(StepKernels.None, x, weight, upstream, null);
        var (_, got) = ProjectionGradients(StepKernels.Only(StepKernels.WeightGradGemmName), x, weight, upstream, null);
        Close(got, want, 1e-5, "weight grad");
    }

    // (h, y) and the gradients of x, delta and weight under sum(h * uh) + sum(y * uy), by the fused function
    // or by autograd through the composed add and norm; uh null: h's gradient is undefined (nothing read h).
    private static (Tensor H, Tensor Y, Tensor[] Grads) AddNorm(bool fused, Tensor x, Tensor delta, Tensor weight, Tensor? uh, Tensor uy)
    {
        var leaves = new[] { x, delta, weight }.Select(t => t.detach().clone().requires_grad_()).ToArray();
        var (h, y) = fused ? ResidualRmsNorm.Apply(leaves[0], leaves[1], leaves[2], 1e-5)
            : (leaves[0].add(leaves[1]), RmsNorm.Composed(leaves[0].add(leaves[1]), leaves[2], 1e-5));
        var loss = y.mul(uy).sum();
        if (uh is not null) loss = loss.add(h.mul(uh).sum());
        loss.backward();
        return (h.detach(), y.detach(), leaves.Select(l => l.grad!.clone()).ToArray());
    }

    private static void AddNormMatchesComposed(Device device, ScalarType dtype, long rows, long dim, bool hUsed, double tolerance)
    {
        var generator = new Generator(21);
        Tensor Random(params long[] shape) => randn(shape, generator: generator).to(dtype, device);
        var (x, delta, uh, uy) = (Random(rows, dim), Random(rows, dim), Random(rows, dim), Random(rows, dim));
        var weight = randn([dim], generator: generator).mul_(0.5).add_(1).to(dtype, device);
        var want = AddNorm(false, x, delta, weight, hUsed ? uh : null, uy);
        var got = AddNorm(true, x, delta, weight, hUsed ? uh : null, uy);
        Close(got.H, want.H, tolerance, "x + delta");
        Close(got.Y, want.Y, tolerance, "the norm");
        Close(got.Grads[0], want.Grads[0], tolerance, "d/dx");
        Close(got.Grads[1], want.Grads[1], tolerance, "d/d delta");
        // The weight's gradient sums over every row: compare it relative to its own scale.
        var scale = want.Grads[2].abs().max().item<float>();
        Close(got.Grads[2].div(scale), want.Grads[2].div(scale), tolerance, "d/d weight");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)] // the final norm: nothing reads the sum, so its gradient arrives undefined
    public void TheResidualAddAndNormFunctionHasTheValuesAndGradientsOfTheComposedAddAndNorm(bool sumIsRead) =>
        AddNormMatchesComposed(CPU, ScalarType.Float32, rows: 10, dim: 12, sumIsRead, 1e-5);

    [Fact]
    public void ADecoderWithTheAddNormLeverHasTheHiddenStatesAndGradientsOfOneWithout()
    {
        // The lever also changes how the decoder carries its stream (residual, pending addend) across layers
        // and cross-attention blocks; the same weights must give the same function and gradients.
        using var model = TinyVlm.Build();
        TinyVlm.WakeCrossAttention(model);
        using var images = TinyVlm.Images(2, 1);
        using var ids = TinyVlm.Ids(2, 8, 2);
        (Tensor Logits, Tensor[] Grads) Run(StepKernels levers)
        {
            var previous = StepKernels.Current;
            try
            {
                StepKernels.Current = levers;
                model.zero_grad();
                var logits = model.Logits(images, ids);
                logits.square().mean().backward();
                return (logits.detach(), model.parameters().Where(p => p.grad is not null).Select(p => p.grad!.clone()).ToArray());
            }
            finally
            {
                StepKernels.Current = previous;
            }
        }
        var (wantLogits, wantGrads) = Run(StepKernels.None);
        var (gotLogits, gotGrads) = Run(StepKernels.Only(StepKernels.AddNormKernelName));
        Close(gotLogits, wantLogits, 1e-5, "logits");
        Assert.Equal(wantGrads.Length, gotGrads.Length);
        for (var i = 0; i < wantGrads.Length; i++) Close(gotGrads[i], wantGrads[i], 1e-4, $"gradient {i}");
        Assert.Contains(gotGrads, g => g.abs().max().item<float>() > 0);
    }

    [Trait("Category", "Gpu")]
    [GpuTheory]
    [InlineData(2048, true)]
    [InlineData(4096, true)]
    [InlineData(2048, false)]
    public void OnTheGpuTheAddNormKernelsAreWithinBf16RoundingOfTheComposedAddAndNorm(long dim, bool sumIsRead) =>
        AddNormMatchesComposed(Gpu, ScalarType.BFloat16, rows: 1000, dim, sumIsRead, 3e-2);

    [Trait("Category", "Gpu")]
    [GpuFact]
    public void OnTheGpuTheSwiGluKernelsAreWithinBf16RoundingOfTheComposedGate() => SwiGluMatchesComposed(Gpu, ScalarType.BFloat16, 2e-2);

    [Trait("Category", "Gpu")]
    [GpuFact]
    public void OnTheGpuTheRopeKernelIsWithinBf16RoundingOfTheComposedRotation() => RopeMatchesComposed(Gpu, ScalarType.BFloat16, 2e-2);

    [Trait("Category", "Gpu")]
    [GpuFact]
    public void OnTheGpuTheFusedLossAndItsGradientsAreThoseOfTheChunkedLoss()
    {
        var generator = new Generator(9);
        var hidden = randn([3, 9, 32], generator: generator).to(ScalarType.BFloat16, Gpu).requires_grad_();
        var weight = randn([1000, 32], generator: generator).mul_(0.3).to(ScalarType.BFloat16, Gpu).requires_grad_();
        var labels = randint(0, 1000, [3, 9], generator: generator);
        labels[TensorIndex.Colon, 0] = tensor(CaptionEncoder.IgnoreIndex);
        labels[1, TensorIndex.Slice(2, 5)] = tensor(CaptionEncoder.IgnoreIndex);
        labels = labels.to(Gpu);
        var (chunked, tokens) = CaptionLoss.SumChunked(hidden, weight, labels, 7);
        chunked.div(tokens).backward();
        var (wantHidden, wantWeight) = (hidden.grad!.clone(), weight.grad!.clone());
        hidden.grad!.zero_();
        weight.grad!.zero_();
        var (fused, fusedTokens) = CaptionLoss.SumFused(hidden, weight, labels);
        fused.div(fusedTokens).backward();
        Assert.Equal(tokens, fusedTokens);
        Assert.Equal(chunked.item<float>(), fused.item<float>(), 2);
        Close(hidden.grad!, wantHidden, 2e-2, "hidden grad");
        Close(weight.grad!, wantWeight, 2e-2, "weight grad");
    }
}
