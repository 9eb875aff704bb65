using Forge.Model.Config;
using Forge.Model.Modeling;
using Forge.Model.Modeling.Moe;
using Forge.Model.Safetensors;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Modeling;

/// <summary>
/// Logits of KempnerForge's own models (its HEAD, built by Fixtures/Kf/make_fixtures.py on PyTorch
/// 2.11, CPU, fp32) against ours on the same weights and inputs. Every parameter there was
/// overwritten with a random non-zero value, the zero-initialised residual projections included, so
/// each one shows in the logits. fp32 tolerance: 1e-4 absolute on logits of order 1.
/// </summary>
public class KempnerForgeParityTests(ITestOutputHelper output)
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Modeling", "Fixtures", "Kf", name);

    private static JobConfig Config(string arch, ModelConfig model) => new()
    {
        Model = model,
        VisionEncoder = new VisionEncoderConfig { Type = "random", FeatureDim = 16, NumTokens = 6 },
        Adapter = new AdapterConfig { Type = "mlp_2layer", HiddenDim = 32, Activation = "gelu" },
        Vlm = new VlmConfig { Arch = arch, MaxTextLen = 10, CrossAttentionEveryNLayers = 2, Freeze = [] },
        Train = new TrainConfig { MixedPrecision = "fp32" },
    };

    [Fact]
    public void MoEWithCrossAttentionMatchesKempnerForgeLogitsAndRoutingLosses()
    {
        var config = Config("cross_attention", new ModelConfig
        {
            Dim = 32, NLayers = 4, NHeads = 4, NKvHeads = 2, VocabSize = 40, FfnHiddenDim = 64, MaxSeqLen = 64,
            NumExperts = 4, MoeTopK = 2, MoeFrequency = 2, MoeSharedExperts = 1, MoeCapacityFactor = 1.0,
        });
        using var model = Load(config, "moe_ca.safetensors", out var reader);
        using var _ = reader;
        using var routing = new RoutingLog();
        using var noGrad = no_grad();

        using var logits = Logits(model, reader, routing);
        using var expected = reader.Read("fixture.logits");

        var diff = logits.sub(expected).abs().max().item<float>();
        output.WriteLine($"MoE + CA logits vs KempnerForge: max |diff| = {diff:E2}");
        Assert.True(diff < 1e-4f, $"max |diff| = {diff}");
        using var aux = routing.AuxLoss();
        using var z = routing.ZLoss();
        Assert.Equal(reader.Read("fixture.aux_loss").item<float>(), aux.item<float>(), 4);
        Assert.Equal(reader.Read("fixture.z_loss").item<float>(), z.item<float>(), 3);
        using var routed = routing.Routed();
        Assert.Equal(reader.Read("fixture.expert_counts.1").data<float>().ToArray(), routed[0].data<float>().ToArray());
        Assert.Equal(reader.Read("fixture.expert_counts.3").data<float>().ToArray(), routed[1].data<float>().ToArray());
        // Capacity 1.0 drops some of the 20 tokens' 40 slots: the fixture exercises dropping.
        using var received = routing.Received();
        Assert.True(received.sum().item<float>() < routed.sum().item<float>());
    }

    [Fact]
    public void MixtureOfTransformersMatchesKempnerForgeLogits()
    {
        var config = Config("mot", new ModelConfig
        {
            Dim = 32, NLayers = 2, NHeads = 4, NKvHeads = 2, VocabSize = 40, FfnHiddenDim = 64, MaxSeqLen = 64,
        });
        using var model = Load(config, "mot.safetensors", out var reader);
        using var _ = reader;
        using var noGrad = no_grad();

        using var logits = Logits(model, reader, null);
        using var expected = reader.Read("fixture.logits");

        var diff = logits.sub(expected).abs().max().item<float>();
        output.WriteLine($"MoT logits vs KempnerForge: max |diff| = {diff:E2}");
        Assert.True(diff < 1e-4f, $"max |diff| = {diff}");
    }

    /// <summary>Builds the model and loads the fixture's weights; every model parameter must be in the file and every weight in the file in the model.</summary>
    private static VisionLanguageModel Load(JobConfig config, string file, out SafetensorsReader reader)
    {
        var model = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        reader = new SafetensorsReader(Fixture(file));
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var weights = reader.Entries.Select(e => e.Name).Where(n => !n.StartsWith("fixture.", StringComparison.Ordinal)).ToHashSet();
        Assert.Empty(parameters.Keys.Except(weights));
        Assert.Empty(weights.Except(parameters.Keys));
        using var noGrad = no_grad();
        foreach (var (name, p) in parameters)
        {
            using var value = reader.Read(name);
            p.copy_(value);
        }
        return model;
    }

    private static Tensor Logits(VisionLanguageModel model, SafetensorsReader reader, RoutingLog? routing)
    {
        using var scope = NewDisposeScope();
        var embeds = model.adapter.forward(reader.Read("fixture.features"));
        var hidden = model.Architecture.TextHidden(model.transformer, embeds, reader.Read("fixture.input_ids"), null, routing);
        return model.transformer.output_head.forward(hidden).MoveToOuterDisposeScope();
    }
}
