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

    [Theory]
    [InlineData("moe-ca-tiny")]
    [InlineData("mot-tiny")]
    public void WithEveryExpertActiveTheFLOPCountCoversExactlyTheMoEAndMoTModelsMatmulWeights(string name)
    {
        // top_k = num_experts routes every token through every expert, so active weights = built weights;
        // an MoT token uses its own modality's copy, so text plus image weights = built weights.
        var preset = BenchmarkPresets.Load(name);
        var config = preset with { Model = preset.Model with { VocabSize = 512, MoeTopK = preset.Model.IsMoe ? preset.Model.NumExperts : 2 } };
        using var model = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        var built = model.named_parameters()
            .Where(p => p.parameter.dim() == 2 && p.name != "transformer.token_embedding.embedding.weight")
            .Sum(p => p.parameter.numel());
        var (perText, perImage) = ModelStepBenchmark.MatmulParameters(config);
        Assert.Equal(built, (long)(perText + perImage));
    }

    [Theory]
    [InlineData("moe-ca-tiny")]
    [InlineData("mot-tiny")]
    public void TheMoEAndMoTPresetsRunTrainingStepsOnTheCPU(string name)
    {
        var output = new StringWriter();

        var result = ModelStepBenchmark.Run(output, new ModelBenchmarkOptions { Preset = name, Steps = 1, Warmup = 0, DType = "fp32", Device = "cpu" });

        Assert.True(double.IsFinite(result.FinalLoss), output.ToString());
        Assert.True(result.SecondsPerStep > 0);
        Assert.Contains(name.StartsWith("mot", StringComparison.Ordinal) ? "preset mot-tiny: mot" : "MoE on 2 layers (top-2 of 4 + shared", output.ToString());
    }
}
