using Forge.Model.Benchmarks;
using Forge.Model.Config;
using Forge.Model.Modeling;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Modeling;

public class ModelStepBenchmarkTests
{
    [Fact]
    public void The_FLOP_count_covers_exactly_the_models_matmul_weights()
    {
        // Shrink ca-tiny's vocabulary so the build stays instant; the accounting does not depend on it.
        var (preset, _) = ModelStepBenchmark.Preset("ca-tiny");
        var config = preset with { Model = preset.Model with { VocabSize = 512, NKvHeads = 2 }, Vlm = preset.Vlm with { CrossAttentionEveryNLayers = 2 } };
        using var model = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        var built = model.named_parameters()
            .Where(p => p.parameter.dim() == 2 && p.name != "transformer.token_embedding.embedding.weight")
            .Sum(p => p.parameter.numel());
        var (perText, perImage) = ModelStepBenchmark.MatmulParameters(config);
        Assert.Equal(built, (long)(perText + perImage));
    }

    [Fact]
    public void The_ca_1b_preset_has_about_1_1_billion_parameters()
    {
        var (config, textLength) = ModelStepBenchmark.Preset("ca-1b");
        var (perText, perImage) = ModelStepBenchmark.MatmulParameters(config);
        var total = perText + perImage + (double)config.Model.Dim * config.Model.VocabSize; // plus the embedding
        Assert.InRange(total, 1.05e9, 1.15e9);
        Assert.Equal(512, textLength);
    }
}
