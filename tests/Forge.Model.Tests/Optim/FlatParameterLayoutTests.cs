using Forge.Model.Optim;
using Forge.Model.Tests.Training.Fixtures;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Optim;

public class FlatParameterLayoutTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void TrainableParametersAreLaidEndToEndAndPaddedToAMultipleOfTheWorldSize(int worldSize)
    {
        using var model = new TinyCaptionModel(1);
        var layout = FlatParameterLayout.For(model.Module, worldSize);

        Assert.Equal(TinyCaptionModel.TrainableElements, layout.Numel);
        Assert.Equal(0, layout.PaddedNumel % worldSize);
        Assert.InRange(layout.PaddedNumel - layout.Numel, 0, worldSize - 1);
        var expectedOffset = 0L;
        foreach (var p in layout.Parameters)
        {
            Assert.Equal(expectedOffset, p.Offset);
            expectedOffset += p.Numel;
        }
        Assert.Equal(layout.Numel, expectedOffset);
        var shards = Enumerable.Range(0, worldSize).Select(layout.ShardOf).ToArray();
        Assert.Equal(0, shards[0].Start);
        for (var r = 1; r < worldSize; r++) Assert.Equal(shards[r - 1].Start + shards[r - 1].Length, shards[r].Start);
        Assert.Equal(layout.PaddedNumel, shards[^1].Start + shards[^1].Length);
    }

    [Fact]
    public void FrozenParametersStayOutOfTheLayout()
    {
        using var model = new TinyCaptionModel(1);
        var layout = FlatParameterLayout.For(model.Module, 2);
        var frozen = model.Module.named_parameters().Where(p => !p.parameter.requires_grad).Select(p => p.name).ToArray();
        Assert.NotEmpty(frozen);
        Assert.DoesNotContain(layout.Parameters, p => frozen.Contains(p.Name));
    }

    [Fact]
    public void BoundParametersAreViewsOfTheFlatBufferAndBackwardFillsTheFlatGradient()
    {
        using var model = new TinyCaptionModel(1);
        var layout = FlatParameterLayout.For(model.Module, 3);
        var before = layout.Gather(model.Module, ScalarType.Float32, CPU);
        var flat = before.clone();
        var grads = zeros_like(flat);
        layout.Bind(model.Module, flat, grads);

        // Values survive the re-pointing.
        Assert.True(layout.Gather(model.Module, ScalarType.Float32, CPU).allclose(before, rtol: 0, atol: 0));
        // Writing the flat buffer writes the parameters (what an all-gather relies on).
        using (no_grad()) flat.add_(1);
        var real = layout.Numel;
        Assert.True(layout.Gather(model.Module, ScalarType.Float32, CPU).narrow(0, 0, real).allclose(before.narrow(0, 0, real) + 1, rtol: 0, atol: 0));

        using var data = new SyntheticCaptions(4);
        var batch = data.MicroBatches(0, 1, 0, 4)[0];
        model.LossSum(batch).LossSum.backward();
        var head = layout.Parameters.Single(p => p.Name == "Head.weight");
        var headParameter = model.Module.named_parameters().Single(p => p.name == "Head.weight").parameter;
        Assert.True(grads.narrow(0, head.Offset, head.Numel).allclose(headParameter.grad!.reshape(-1), rtol: 0, atol: 0));
        Assert.True(grads.abs().sum().item<float>() > 0);
        // Padding never receives gradient.
        Assert.Equal(0f, grads.narrow(0, layout.Numel, layout.PaddedNumel - layout.Numel).abs().sum().item<float>());
    }
}
