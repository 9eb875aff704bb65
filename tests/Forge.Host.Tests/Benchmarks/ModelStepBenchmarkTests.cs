using Forge.Host.Benchmarks;
using Forge.Model.Modeling;
using static TorchSharp.torch;

namespace Forge.Host.Tests.Benchmarks;

public sealed class ModelStepBenchmarkTests
{
    [Fact]
    public void TheFlopCountCoversExactlyTheModelsMatmulWeights()
    {
        // Shrink ca-tiny's vocabulary so the build stays instant; the accounting does not depend on it.
        var preset = BenchmarkPresets.Load("ca-tiny");
        var config = preset with { Model = preset.Model with { VocabSize = 512, NKvHeads = 2 }, Vlm = preset.Vlm with { CrossAttentionEveryNLayers = 2 } };
        using var model = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        var built = model.named_parameters()
            .Where(p => p.parameter.dim() == 2 && p.name != "transformer.token_embedding.embedding.weight")
            .Sum(p => p.parameter.numel());
        var (perText, perImage) = ModelStepBenchmark.MatmulParameters(config);
        Assert.Equal(built, (long)(perText + perImage));
    }

    [Fact]
    public void TheCa1bPresetHasAbout1Point1BillionParametersAnd512TextTokens()
    {
        var config = BenchmarkPresets.Load("ca-1b");
        var (perText, perImage) = ModelStepBenchmark.MatmulParameters(config);
        var total = perText + perImage + (double)config.Model.Dim * config.Model.VocabSize; // plus the embedding
        Assert.InRange(total, 1.05e9, 1.15e9);
        Assert.Equal(512, config.Vlm.MaxTextLen);
    }
}
