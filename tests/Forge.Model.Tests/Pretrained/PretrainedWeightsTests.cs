using Forge.Model.Config;
using Forge.Model.Modeling;
using Forge.Model.Pretrained;
using Forge.Model.Safetensors;
using Forge.Model.Tests.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Pretrained;

public sealed class PretrainedWeightsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("forge-pretrained-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The same decoder with no cross-attention blocks, under the VLM's state-dict prefix.</summary>
    private sealed class TextOnlyModel : nn.Module
    {
        public readonly TextDecoder transformer;

        public TextOnlyModel(ModelConfig config) : base(nameof(TextOnlyModel))
        {
            transformer = new TextDecoder(config, crossAttention: null, CPU);
            RegisterComponents();
        }

        public Tensor Logits(Tensor ids)
        {
            using var scope = NewDisposeScope();
            var hidden = transformer.Hidden(transformer.token_embedding.forward(ids));
            return transformer.output_head.forward(hidden).MoveToOuterDisposeScope();
        }
    }

    [Fact]
    public void ATextOnlyCheckpointInACrossAttentionModelGivesTheTextOnlyLogitsBitForBit()
    {
        var config = HfFixtures.CrossAttentionConfig();
        using var vlm = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        var report = PretrainedWeights.Load(vlm, HfFixtures.Dir("llama"), []);
        using var textOnly = new TextOnlyModel(config.Model);
        PretrainedWeights.Load(textOnly, HfFixtures.Dir("llama"), []);

        using var ids = HfFixtures.ReadReference("llama.safetensors", "input_ids");
        using var images = rand([2, 3, 8, 8], generator: new Generator(3));
        using var withImages = vlm.Logits(images, ids);
        using var expected = textOnly.Logits(ids);

        Assert.True(vlm.transformer.cross_attention_layers.Count > 0);
        Assert.Equal(TinyVlm.Bytes(expected), TinyVlm.Bytes(withImages));
        // The CA blocks, the adapter and the encoder are what the text checkpoint lacks.
        Assert.All(report.KeptInit, n => Assert.False(n.StartsWith("transformer.", StringComparison.Ordinal) && !n.StartsWith("transformer.cross_attention_layers.", StringComparison.Ordinal), n));
        Assert.Contains(report.KeptInit, n => n.StartsWith("transformer.cross_attention_layers.", StringComparison.Ordinal));
        Assert.Contains(report.KeptInit, n => n.StartsWith("adapter.", StringComparison.Ordinal));
        Assert.Equal(vlm.named_parameters().Count(p => p.name.StartsWith("transformer.", StringComparison.Ordinal) && !p.name.Contains("cross_attention")), report.Loaded.Count);
    }

    [Fact]
    public void WithTheTextModelFrozenOnlyCrossAttentionAndAdapterParametersGetGradientAtStepZero()
    {
        var config = HfFixtures.CrossAttentionConfig() with
        {
            Vlm = TinyVlm.Config().Vlm with
            {
                Freeze = [new FreezeSpec { Module = "vision_encoder" }, new FreezeSpec { Module = "transformer" }, new FreezeSpec { Module = "cross_attention", Frozen = false }],
            },
        };
        using var vlm = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        PretrainedWeights.Load(vlm, HfFixtures.Dir("llama"), []);
        using var images = rand([2, 3, 8, 8], generator: new Generator(4));
        using var ids = randint(0, 381, [2, 8], generator: new Generator(5));
        using var batch = TinyVlm.Batch(images, ids);
        var (loss, _) = vlm.LossSum(batch);
        loss.backward();

        var learning = new List<string>();
        foreach (var (name, p) in vlm.named_parameters())
        {
            var trainable = name.StartsWith("adapter.", StringComparison.Ordinal) || name.StartsWith("transformer.cross_attention_layers.", StringComparison.Ordinal);
            Assert.Equal(trainable, p.requires_grad);
            if (!trainable)
            {
                Assert.True(p.grad is null, $"frozen {name} got a gradient");
                continue;
            }
            if (p.grad!.abs().max().item<float>() > 0) learning.Add(name);
        }
        // Zero o_proj / down_proj make every CA block the identity, so they are exactly the
        // parameters with a gradient: everything upstream of them (q/k/v, norms, gate/up, the
        // adapter) cannot change the loss until they move.
        var zeroInit = vlm.named_parameters().Select(p => p.name)
            .Where(n => n.StartsWith("transformer.cross_attention_layers.", StringComparison.Ordinal) && (n.EndsWith(".attn.o_proj.weight") || n.EndsWith(".mlp.down_proj.weight")))
            .ToList();
        Assert.Equal(2 * config.Model.NLayers, zeroInit.Count);
        Assert.Equal(zeroInit.Order(), learning.Order());
    }

    [Fact]
    public void ATensorTheModelLacksIsAnErrorNamingItUnlessExcluded()
    {
        var config = HfFixtures.CrossAttentionConfig();
        using var vlm = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        var path = Path.Combine(_dir, "extra.safetensors");
        using (var source = new TextOnlyModel(config.Model))
        using (var stray = ones(3))
            SafetensorsWriter.Save(path, source.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Append(("transformer.extra_gate", stray)));

        var e = Assert.Throws<InvalidDataException>(() => PretrainedWeights.Load(vlm, path, []));
        Assert.Contains("'transformer.extra_gate' [3]", e.Message);
        Assert.Contains("checkpoint.exclude_from_loading", e.Message);

        var report = PretrainedWeights.Load(vlm, path, ["transformer.extra_*"]);
        Assert.Equal(["transformer.extra_gate"], report.Skipped);
    }

    [Fact]
    public void AShapeMismatchIsAnErrorNamingTheTensorAndBothShapesUnlessExcluded()
    {
        // A vocabulary of 400 against the checkpoint's 384: the embedding and the head do not fit.
        var config = HfFixtures.CrossAttentionConfig() with { Model = HfFixtures.CrossAttentionConfig().Model with { VocabSize = 400 } };
        using var vlm = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        using var before = vlm.transformer.token_embedding.embedding.weight!.clone();

        var e = Assert.Throws<InvalidDataException>(() => PretrainedWeights.Load(vlm, HfFixtures.Dir("llama"), []));
        Assert.Contains("'model.embed_tokens.weight' is [384, 32] in the file but 'transformer.token_embedding.embedding.weight' is [400, 32]", e.Message);
        Assert.Contains("'lm_head.weight' is [384, 32]", e.Message);
        // Nothing was copied before the check failed.
        Assert.True(before.eq(vlm.transformer.token_embedding.embedding.weight!).all().item<bool>());

        var report = PretrainedWeights.Load(vlm, HfFixtures.Dir("llama"), ["model.embed_tokens.weight", "transformer.output_head"]);
        Assert.Equal(["lm_head.weight", "model.embed_tokens.weight"], report.Skipped.Order());
        Assert.Contains("transformer.token_embedding.embedding.weight", report.KeptInit);
        Assert.Contains("transformer.layers.0.attention.q_proj.weight", report.Loaded);
    }

    [Fact]
    public void AShardedModelDirectoryLoadsTheSameWeightsAsItsSingleFile()
    {
        var config = HfFixtures.CrossAttentionConfig();
        using var single = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        using var sharded = VlmRegistry.Build(config with { Train = config.Train with { Seed = 99 } }, CPU, ScalarType.Float32);
        var a = PretrainedWeights.Load(single, HfFixtures.Dir("llama"), []);
        var b = PretrainedWeights.Load(sharded, HfFixtures.Dir("llama-sharded"), []);

        Assert.Equal(a.Loaded, b.Loaded);
        var shardedParameters = sharded.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var name in a.Loaded)
        {
            var p = single.named_parameters().First(x => x.name == name).parameter;
            Assert.True(p.eq(shardedParameters[name]).all().item<bool>(), name);
        }
    }

    [Fact]
    public void TiedEmbeddingsLoadTheOutputHeadFromTheEmbedding()
    {
        var config = HfFixtures.CrossAttentionConfig("llama-tied");
        using var vlm = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        var report = PretrainedWeights.Load(vlm, HfFixtures.Dir("llama-tied"), []);

        Assert.True(report.TiedOutputHead);
        Assert.Contains("transformer.output_head.proj.weight", report.Loaded);
        Assert.True(vlm.transformer.output_head.proj.weight!.eq(vlm.transformer.token_embedding.embedding.weight!).all().item<bool>());
    }

    [Fact]
    public void TheReportFoldsLayerIndicesIntoRanges()
    {
        var folded = WeightLoadReport.Fold(["a.layers.0.w", "a.layers.1.w", "a.layers.2.w", "a.layers.5.w", "norm.weight"]);
        Assert.Equal(["a.layers.{0-2,5}.w", "norm.weight"], folded);
    }
}
