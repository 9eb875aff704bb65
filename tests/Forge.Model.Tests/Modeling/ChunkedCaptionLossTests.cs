using Forge.Model.Modeling;
using Forge.Model.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Modeling;

public class ChunkedCaptionLossTests
{
    private const long Batch = 3, Length = 9, Dim = 16, Vocab = 40;

    private static (Tensor Hidden, Tensor Weight, Tensor Labels) Inputs(long seed, long length = Length)
    {
        var generator = new Generator((ulong)seed);
        var hidden = randn([Batch, length, Dim], generator: generator).requires_grad_();
        var weight = randn([Vocab, Dim], generator: generator).mul_(0.3).requires_grad_();
        var labels = randint(0, Vocab, [Batch, length], generator: generator);
        // Ignored targets in the middle and at the start, as prompts and padding make them.
        labels[TensorIndex.Colon, 0] = tensor(CaptionEncoder.IgnoreIndex);
        labels[1, TensorIndex.Slice(3, 6)] = tensor(CaptionEncoder.IgnoreIndex);
        return (hidden, weight, labels);
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(5L)]
    [InlineData(7L)]
    [InlineData(1000L)]
    public void ChunkedLossAndItsGradientsEqualTheFullLogitsLoss(long chunkRows)
    {
        var (hidden, weight, labels) = Inputs(3);
        var (full, fullTokens) = CaptionLoss.Sum(nn.functional.linear(hidden, weight), labels);
        full.backward();
        var (wantHidden, wantWeight) = (hidden.grad!.clone(), weight.grad!.clone());
        hidden.grad!.zero_();
        weight.grad!.zero_();

        var (chunked, tokens) = CaptionLoss.SumChunked(hidden, weight, labels, chunkRows);
        chunked.backward();

        Assert.Equal(fullTokens, tokens);
        Assert.Equal(full.item<float>(), chunked.item<float>(), 3);
        Assert.True(hidden.grad!.allclose(wantHidden, rtol: 1e-5, atol: 1e-6), $"hidden grad max diff {(hidden.grad! - wantHidden).abs().max().item<float>()}");
        Assert.True(weight.grad!.allclose(wantWeight, rtol: 1e-5, atol: 1e-6), $"weight grad max diff {(weight.grad! - wantWeight).abs().max().item<float>()}");
    }

    [Fact]
    public void ChunkedLossOfThePredictingRowsEqualsTheLossOfAllRows()
    {
        // The model drops the last position before the head; the loss takes either shape, as Sum does.
        var (hidden, weight, labels) = Inputs(5);
        var (all, _) = CaptionLoss.SumChunked(hidden, weight, labels, 4);
        var (predicting, _) = CaptionLoss.SumChunked(hidden.narrow(1, 0, Length - 1), weight, labels, 4);
        Assert.Equal(all.item<float>(), predicting.item<float>(), 4);
    }

    [Fact]
    public void UpstreamScaleReachesBothGradientsOfTheChunkedLoss()
    {
        // The trainer backpropagates sum / tokens: the chunked gradients must follow the scale.
        var (hidden, weight, labels) = Inputs(7);
        var (full, tokens) = CaptionLoss.Sum(nn.functional.linear(hidden, weight), labels);
        full.div(tokens).backward();
        var (wantHidden, wantWeight) = (hidden.grad!.clone(), weight.grad!.clone());
        hidden.grad!.zero_();
        weight.grad!.zero_();
        CaptionLoss.SumChunked(hidden, weight, labels, 6).Sum.div(tokens).backward();
        Assert.True(hidden.grad!.allclose(wantHidden, rtol: 1e-5, atol: 1e-7));
        Assert.True(weight.grad!.allclose(wantWeight, rtol: 1e-5, atol: 1e-7));
    }

    [Fact]
    public void AFrozenHeadGetsNoGradientAndTheHiddenGradientIsUnchanged()
    {
        var (hidden, weight, labels) = Inputs(9);
        weight.requires_grad_(false);
        CaptionLoss.Sum(nn.functional.linear(hidden, weight), labels).Sum.backward();
        var want = hidden.grad!.clone();
        hidden.grad!.zero_();
        CaptionLoss.SumChunked(hidden, weight, labels, 5).Sum.backward();
        Assert.Null(weight.grad);
        Assert.True(hidden.grad!.allclose(want, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void UnderNoGradTheChunkedLossEqualsTheFullLossAndBuildsNoGraph()
    {
        var (hidden, weight, labels) = Inputs(11);
        using var noGrad = no_grad();
        var (full, _) = CaptionLoss.Sum(nn.functional.linear(hidden, weight), labels);
        var (chunked, _) = CaptionLoss.SumChunked(hidden, weight, labels, 4);
        Assert.False(chunked.requires_grad);
        Assert.Equal(full.item<float>(), chunked.item<float>(), 3);
    }

    [Fact]
    public void InBf16TheChunkedLossIsWithinRoundingOfTheFullLoss()
    {
        // bf16 logits from bf16 hidden states and head, scored in fp32, as on the GPU.
        var (hidden32, weight32, labels) = Inputs(13);
        var hidden = hidden32.detach().to(ScalarType.BFloat16).requires_grad_();
        var weight = weight32.detach().to(ScalarType.BFloat16).requires_grad_();
        var (full, _) = CaptionLoss.Sum(nn.functional.linear(hidden, weight), labels);
        full.backward();
        var (wantHidden, wantWeight) = (hidden.grad!.to(ScalarType.Float32), weight.grad!.to(ScalarType.Float32));
        hidden.grad!.zero_();
        weight.grad!.zero_();
        var (chunked, _) = CaptionLoss.SumChunked(hidden, weight, labels, 5);
        chunked.backward();
        Assert.Equal(full.item<float>(), chunked.item<float>(), 1);
        // Both gradients are rounded to bf16 once (the composed path also rounds the logits' gradient first).
        Assert.True(hidden.grad!.to(ScalarType.Float32).allclose(wantHidden, rtol: 2e-2, atol: 2e-2));
        Assert.True(weight.grad!.to(ScalarType.Float32).allclose(wantWeight, rtol: 2e-2, atol: 2e-2));
    }
}
