using Forge.Model.Config;
using Forge.Model.Modeling;
using Forge.Model.Modeling.Mot;
using Forge.Model.Safetensors;
using Forge.Model.Tests.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Modeling;

public class MixtureOfTransformersTests
{
    private static JobConfig MotConfig() => TinyVlm.Config("mot");

    [Fact]
    public void AMoTBlockAtInitIsTheIdentity()
    {
        manual_seed(8);
        using var block = new MotBlock(32, 4, 2, 48, 1e-5);
        using var rope = new RotaryEmbedding(8, 64, 10000, CPU);
        using var image = randn(2, 4, 32);
        using var text = randn(2, 6, 32);
        using var noGrad = no_grad();

        var (outImage, outText) = block.forward(image, text, rope);

        Assert.Equal(TinyVlm.Bytes(image), TinyVlm.Bytes(outImage));
        Assert.Equal(TinyVlm.Bytes(text), TinyVlm.Bytes(outText));
        outImage.Dispose();
        outText.Dispose();
    }

    [Fact]
    public void AMoTModelAtInitGivesTheTextEmbeddingsFinalNormedWhateverTheImage()
    {
        using var model = TinyVlm.Build(MotConfig());
        using var ids = TinyVlm.Ids(2, 8, 3);
        using var noGrad = no_grad();

        using var a = model.TextHidden(TinyVlm.Images(2, 1), ids);
        using var b = model.TextHidden(TinyVlm.Images(2, 2), ids);
        using var expected = model.transformer.mot_norms!.text.forward(model.transformer.token_embedding.forward(ids));

        Assert.Equal(TinyVlm.Bytes(expected), TinyVlm.Bytes(a));
        Assert.Equal(TinyVlm.Bytes(expected), TinyVlm.Bytes(b));
    }

    [Fact]
    public void MoTWithEqualTextAndImageWeightsEqualsADenseBlockOverTheJointSequence()
    {
        manual_seed(9);
        using var dense = new TransformerBlock(32, 4, 2, 48, 1e-5);
        using (no_grad())
            foreach (var (_, p) in dense.named_parameters()) p.normal_(0, 0.3);
        using var decoder = new TextDecoder(new ModelConfig { Dim = 32, NLayers = 1, NHeads = 4, NKvHeads = 2, VocabSize = 16, FfnHiddenDim = 48, MaxSeqLen = 64 },
            null, CPU, mixtureOfTransformers: true);
        var denseNames = dense.named_parameters().ToDictionary(p => "layers.0." + p.name, p => (Tensor)p.parameter);
        var copied = MotWarmStart.FromTextStack(decoder, key => denseNames.GetValueOrDefault(key), "dense block");
        Assert.Equal(2 * denseNames.Count, copied);
        var block = (MotBlock)decoder.layers[0];
        using var rope = new RotaryEmbedding(8, 64, 10000, CPU);
        using var image = randn(2, 4, 32);
        using var text = randn(2, 6, 32);
        using var noGrad = no_grad();

        var (outImage, outText) = block.forward(image, text, rope);
        using var expected = DenseBlockWithModalityPositions(dense, image, text, rope);

        Assert.True(cat([outImage, outText], 1).allclose(expected, rtol: 0, atol: 1e-5));
        outImage.Dispose();
        outText.Dispose();
    }

    /// <summary>
    /// The dense block's own modules over [image | text], attention causal over the whole sequence,
    /// with RoPE positions counted from 0 in each part (KempnerForge's MoT positions).
    /// </summary>
    private static Tensor DenseBlockWithModalityPositions(TransformerBlock dense, Tensor image, Tensor text, RotaryEmbedding rope)
    {
        using var scope = NewDisposeScope();
        var x = cat([image, text], 1);
        var (b, s, n) = (x.shape[0], x.shape[1], image.shape[1]);
        var a = dense.attention;
        var normed = dense.attention_norm.forward(x);
        Tensor Rotated(Tensor projected, int heads)
        {
            var v = projected.view(b, s, heads, 8);
            return cat([rope.Apply(v.narrow(1, 0, n)), rope.Apply(v.narrow(1, n, s - n))], 1);
        }
        var q = Rotated(a.q_proj.forward(normed), 4);
        var k = GroupedQuery.RepeatKv(Rotated(a.k_proj.forward(normed), 2), 2);
        var v = GroupedQuery.RepeatKv(a.v_proj.forward(normed).view(b, s, 2, 8), 2);
        var attended = nn.functional.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_casual: true);
        var h = x.add(a.o_proj.forward(attended.transpose(1, 2).reshape(b, s, 32)));
        var mlp = dense.DenseMlp!;
        return h.add(mlp.forward(dense.mlp_norm.forward(h))).MoveToOuterDisposeScope();
    }

    [Fact]
    public void AWarmStartCopiesEachDenseBlockIntoEveryModality()
    {
        using var folder = new TemporaryFolder();
        var dense = TinyVlm.Config("joint_decoder");
        using var denseModel = TinyVlm.Build(dense);
        var path = Path.Combine(folder.Path, "dense.safetensors");
        StateDict.Save(denseModel, path);
        var config = MotConfig() with { Vlm = MotConfig().Vlm with { MotWarmStartFromText = true, MotWarmStartPath = path } };

        using var mot = TinyVlm.Build(config);

        var source = denseModel.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var target = mot.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var checkedPairs = 0;
        foreach (var modality in Modalities.All)
            for (var i = 0; i < dense.Model.NLayers; i++)
            {
                var l = $"transformer.layers.{i}";
                (string, string)[] pairs =
                [
                    ($"{l}.attention_norm.weight", $"{l}.attn_norm.{modality}.weight"),
                    ($"{l}.attention.q_proj.weight", $"{l}.attn.q_proj.{modality}.weight"),
                    ($"{l}.attention.k_proj.weight", $"{l}.attn.k_proj.{modality}.weight"),
                    ($"{l}.attention.v_proj.weight", $"{l}.attn.v_proj.{modality}.weight"),
                    ($"{l}.attention.o_proj.weight", $"{l}.attn.o_proj.{modality}.weight"),
                    ($"{l}.mlp_norm.weight", $"{l}.mlp_norm.{modality}.weight"),
                    ($"{l}.mlp.gate_proj.weight", $"{l}.mlp.{modality}.gate_proj.weight"),
                    ($"{l}.mlp.up_proj.weight", $"{l}.mlp.{modality}.up_proj.weight"),
                    ($"{l}.mlp.down_proj.weight", $"{l}.mlp.{modality}.down_proj.weight"),
                ];
                foreach (var (from, to) in pairs)
                {
                    Assert.Equal(TinyVlm.Bytes(source[from]), TinyVlm.Bytes(target[to]));
                    checkedPairs++;
                }
            }
        Assert.Equal(2 * 2 * 9, checkedPairs);
        Assert.Equal(TinyVlm.Bytes(source["transformer.norm.weight"]), TinyVlm.Bytes(target["transformer.mot_norms.text.weight"]));
        // The warm-started o_proj and down_proj are the dense model's non-zero ones: no longer the identity.
        Assert.True(target["transformer.layers.0.attn.o_proj.text.weight"].abs().sum().item<float>() > 0);
    }

    [Fact]
    public void MoTParametersHaveKempnerForgesPerModalityNames()
    {
        using var model = TinyVlm.Build(MotConfig());
        var names = model.named_parameters().Select(p => p.name).ToHashSet();

        foreach (var m in new[] { "image", "text" })
        {
            Assert.Contains($"transformer.layers.1.attn.q_proj.{m}.weight", names);
            Assert.Contains($"transformer.layers.1.attn.k_proj.{m}.weight", names);
            Assert.Contains($"transformer.layers.1.attn.v_proj.{m}.weight", names);
            Assert.Contains($"transformer.layers.1.attn.o_proj.{m}.weight", names);
            Assert.Contains($"transformer.layers.1.attn_norm.{m}.weight", names);
            Assert.Contains($"transformer.layers.1.mlp_norm.{m}.weight", names);
            Assert.Contains($"transformer.layers.1.mlp.{m}.gate_proj.weight", names);
            Assert.Contains($"transformer.layers.1.mlp.{m}.down_proj.weight", names);
            Assert.Contains($"transformer.mot_norms.{m}.weight", names);
        }
        Assert.Contains("transformer.norm.weight", names);
        Assert.DoesNotContain(names, n => n.Contains("cross_attention", StringComparison.Ordinal));
        // Unused by the text loss, as in KempnerForge (which freezes norm.weight): never trained.
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToHashSet();
        Assert.DoesNotContain("transformer.norm.weight", trainable);
        Assert.DoesNotContain("transformer.mot_norms.image.weight", trainable);
        Assert.Contains("transformer.mot_norms.text.weight", trainable);
    }

    [Fact]
    public void TextPositionsSeeTheImageThroughTheOneAttentionOnceTrained()
    {
        using var model = TinyVlm.Build(MotConfig());
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
                if (name.Contains(".o_proj.", StringComparison.Ordinal) || name.Contains("down_proj", StringComparison.Ordinal)) p.normal_(0, 0.2);
        using var ids = TinyVlm.Ids(2, 8, 3);
        using var noGrad = no_grad();

        using var a = model.Logits(TinyVlm.Images(2, 1), ids);
        using var b = model.Logits(TinyVlm.Images(2, 2), ids);

        Assert.False(a.allclose(b));
    }
}
