using Forge.Model.Modeling;
using Forge.Model.Pretrained;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Pretrained;

public sealed class HfLlamaParityTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("llama")]
    [InlineData("llama-tied")]
    [InlineData("llama-sharded")]
    public void LogitsMatchTransformersOnTheTinyRandomLlama(string fixture)
    {
        var config = HfFixtures.CrossAttentionConfig(fixture);
        using var vlm = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        PretrainedWeights.Load(vlm, HfFixtures.Dir(fixture), []);
        using var ids = HfFixtures.ReadReference("llama.safetensors", "input_ids");
        using var expected = HfFixtures.ReadReference("llama.safetensors", (fixture == "llama-tied" ? "llama-tied" : "llama") + ".logits");

        using var noGrad = no_grad();
        // The text-only forward: images are absent, so the CA blocks are skipped.
        using var hidden = vlm.transformer.Hidden(vlm.transformer.token_embedding.forward(ids));
        using var logits = vlm.transformer.output_head.forward(hidden);

        var diff = (logits - expected).abs().max().item<float>();
        output.WriteLine($"{fixture}: max |logits - transformers| = {diff:E2} (logits std {expected.std().item<float>():F3})");
        Assert.True(diff < 1e-4f, $"max |diff| {diff}");
    }

    [Fact]
    public void TheConfigJsonMapsOntoTheModelSection()
    {
        var hf = HfLlamaConfig.Read(HfFixtures.Dir("llama"));
        Assert.Equal(32, hf.Model.Dim);
        Assert.Equal(2, hf.Model.NLayers);
        Assert.Equal(4, hf.Model.NHeads);
        Assert.Equal(2, hf.Model.ResolvedKvHeads);
        Assert.Equal(384, hf.Model.VocabSize);
        Assert.Equal(64, hf.Model.ResolvedFfnHiddenDim);
        Assert.Equal(1e-5, hf.Model.NormEps);
        Assert.Equal(128, hf.Model.MaxSeqLen);
        Assert.Equal(50000.0, hf.Model.RopeTheta);
        Assert.False(hf.TieWordEmbeddings);
        Assert.True(HfLlamaConfig.Read(HfFixtures.Dir("llama-tied")).TieWordEmbeddings);
        Assert.Equal((381, 382, 383), (hf.BosTokenId, hf.EosTokenId, hf.PadTokenId));
    }

    [Fact]
    public void AConfigTheDecoderCannotComputeIsRefusedByKey()
    {
        var dir = Directory.CreateTempSubdirectory("forge-hfcfg-").FullName;
        try
        {
            var text = File.ReadAllText(Path.Combine(HfFixtures.Dir("llama"), "config.json"));
            File.WriteAllText(Path.Combine(dir, "config.json"), text.Replace("\"rope_type\": \"default\"", "\"rope_type\": \"llama3\""));
            var e = Assert.Throws<InvalidDataException>(() => HfLlamaConfig.Read(dir));
            Assert.Contains("rope_parameters.rope_type = \"llama3\"", e.Message);

            File.WriteAllText(Path.Combine(dir, "config.json"), text.Replace("\"mlp_bias\": false", "\"mlp_bias\": true"));
            Assert.Contains("mlp_bias = true", Assert.Throws<InvalidDataException>(() => HfLlamaConfig.Read(dir)).Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void NamesMapBothWays()
    {
        foreach (var hf in new[] { "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight", "model.layers.1.self_attn.k_proj.weight", "model.layers.0.post_attention_layernorm.weight" })
            Assert.Equal(hf, HfLlamaNames.ToHf(HfLlamaNames.ToForge(hf)!));
        Assert.Equal("transformer.layers.3.attention_norm.weight", HfLlamaNames.ToForge("model.layers.3.input_layernorm.weight"));
        Assert.Null(HfLlamaNames.ToHf("transformer.cross_attention_layers.0.attn.q_proj.weight"));
        Assert.Null(HfLlamaNames.ToForge("model.layers.0.self_attn.q_proj.bias"));
    }
}
