using Forge.Model.Modeling;
using Forge.Model.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Modeling;

public class TextDecoderTests
{
    [Fact]
    public void GroupedQueryAttentionEqualsMHAWithRepeatedKVWeights()
    {
        manual_seed(5);
        using var gqa = new Attention(32, 4, 2, causal: true);
        using var mha = new Attention(32, 4, 4, causal: true);
        CrossAttentionTests.CopyWithRepeatedKv(gqa.q_proj.weight!, gqa.k_proj.weight!, gqa.v_proj.weight!, gqa.o_proj.weight!,
            mha.q_proj.weight!, mha.k_proj.weight!, mha.v_proj.weight!, mha.o_proj.weight!, heads: 4, kvHeads: 2);
        using var rope = new RotaryEmbedding(8, 16, 10000, CPU);
        using var x = randn(2, 7, 32);
        Assert.True(gqa.forward(x, rope).allclose(mha.forward(x, rope), rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void ChangingATokenNeverChangesLogitsAtEarlierPositions()
    {
        using var model = TinyVlm.Build();
        TinyVlm.WakeCrossAttention(model);
        using var images = TinyVlm.Images(2, 1);
        using var ids = TinyVlm.Ids(2, 8, 2);
        using var edited = ids.clone();
        edited[TensorIndex.Colon, 5] = (ids[TensorIndex.Colon, 5] + 1).remainder(24).add(0);
        using var noGrad = no_grad();
        using var a = model.Logits(images, ids);
        using var b = model.Logits(images, edited);
        Assert.Equal(TinyVlm.Bytes(a.narrow(1, 0, 5)), TinyVlm.Bytes(b.narrow(1, 0, 5)));
        Assert.False(a.narrow(1, 5, 3).allclose(b.narrow(1, 5, 3)));
    }

    [Fact]
    public void ACrossAttentionModelAtInitGivesTheTextOnlyModelsLogits()
    {
        var config = TinyVlm.Config();
        using var vlm = TinyVlm.Build(config);
        using var textOnly = new TextDecoder(config.Model, crossAttention: null, CPU);
        // Same text weights: load the VLM decoder's text parameters into the text-only decoder by name.
        var path = Path.Combine(Path.GetTempPath(), $"forge-textonly-{Guid.NewGuid():N}.safetensors");
        try
        {
            SafetensorsWriter.Save(path, vlm.transformer.named_parameters()
                .Where(p => !p.name.StartsWith("cross_attention_layers.")).Select(p => (p.name, (Tensor)p.parameter)));
            StateDict.Load(textOnly, path);
        }
        finally
        {
            File.Delete(path);
        }
        using var images = TinyVlm.Images(2, 3);
        using var ids = TinyVlm.Ids(2, 8, 4);
        using var noGrad = no_grad();
        using var withImages = vlm.Logits(images, ids);
        using var textLogits = textOnly.output_head.forward(textOnly.Hidden(textOnly.token_embedding.forward(ids)));
        Assert.Equal(TinyVlm.Bytes(textLogits), TinyVlm.Bytes(withImages));
    }

    [Fact]
    public void RopeRotationKeepsNormsAndScoresDependOnlyOnRelativePosition()
    {
        using var rope = new RotaryEmbedding(8, 32, 10000, CPU);
        using var q = randn(1, 1, 1, 8, ScalarType.Float64);
        using var k = randn(1, 1, 1, 8, ScalarType.Float64);
        Tensor At(Tensor v, int pos) => rope.Apply(v.expand(1, 32, 1, 8).contiguous())[0, pos, 0];
        double Score(int m, int n) => At(q, m).dot(At(k, n)).item<double>();
        Assert.Equal(q.norm().item<double>(), At(q, 17).norm().item<double>(), 10);
        Assert.Equal(Score(3, 1), Score(12, 10), 10);
        Assert.Equal(Score(20, 25), Score(0, 5), 10);
        Assert.NotEqual(Score(3, 1), Score(3, 2), 6);
    }

    [Fact]
    public void RmsNormWithUnitScaleGivesUnitRootMeanSquare()
    {
        using var norm = new RmsNorm(16, 1e-6);
        using var x = randn(3, 4, 16).mul(7);
        using var y = norm.forward(x);
        using var rms = y.pow(2).mean([-1]).sqrt();
        Assert.True(rms.allclose(ones_like(rms), rtol: 1e-4, atol: 1e-4));
    }
}
