using Forge.Model.Config;
using Forge.Model.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Modeling;

public class VlmRegistryTests
{
    [Fact]
    public void JointDecoderIsSelectedByConfigAndItsTextLogitsSeeTheImagePrefix()
    {
        using var model = TinyVlm.Build(TinyVlm.Config(arch: "joint_decoder"));
        Assert.Empty(model.transformer.cross_attention_layers);
        Assert.DoesNotContain(model.named_parameters(), p => p.name.Contains("cross_attention"));
        using var ids = TinyVlm.Ids(2, 8, 1);
        using var noGrad = no_grad();
        using var a = model.Logits(TinyVlm.Images(2, 1), ids);
        using var b = model.Logits(TinyVlm.Images(2, 2), ids);
        Assert.Equal(new long[] { 2, 8, 24 }, a.shape);
        Assert.False(a.allclose(b), "the image prefix should change the text logits");
    }

    [Fact]
    public void JointDecoderMaskingTheFirstImageTokenEqualsRemovingIt()
    {
        // RoPE scores depend only on relative positions, so dropping the first prefix token (which
        // shifts every later position by one) and masking it out as a key must give the same text.
        using var model = TinyVlm.Build(TinyVlm.Config(arch: "joint_decoder", encoder: "random"));
        using var ids = TinyVlm.Ids(1, 8, 4);
        using var noGrad = no_grad();
        using var embeds = model.ImageEmbeddings(TinyVlm.Images(1, 3));
        using var mask = ones(1, 4, ScalarType.Bool);
        mask[0, 0] = tensor(false);
        using var masked = model.Architecture.TextHidden(model.transformer, embeds, ids, mask);
        using var removed = model.Architecture.TextHidden(model.transformer, embeds.narrow(1, 1, 3), ids, null);
        using var unmasked = model.Architecture.TextHidden(model.transformer, embeds, ids, null);
        Assert.True(masked.allclose(removed, rtol: 1e-4, atol: 1e-5));
        Assert.False(masked.allclose(unmasked, rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void AnUnknownArchIsRejectedNamingTheKeyAndTheChoices()
    {
        var config = TinyVlm.Config() with { Vlm = new VlmConfig { Arch = "perceiver" } };
        var e = Assert.Throws<ArgumentException>(() => TinyVlm.Build(config));
        Assert.Contains("vlm.arch 'perceiver'", e.Message);
        Assert.Contains("cross_attention", e.Message);
        Assert.Contains("joint_decoder", e.Message);
    }

    [Fact]
    public void TheSameConfigAndSeedBuildTheSameWeights()
    {
        using var a = TinyVlm.Build();
        using var b = TinyVlm.Build();
        var bw = b.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in a.named_parameters())
            Assert.True(p.equal(bw[name]).all().item<bool>(), name);
    }

    [Fact]
    public void TheRandomStubEncoderIsDeterministicAndParameterFree()
    {
        var config = TinyVlm.Config(encoder: "random");
        using var a = TinyVlm.Build(config);
        using var b = TinyVlm.Build(config);
        Assert.DoesNotContain(a.named_parameters(), p => p.name.StartsWith("vision_encoder."));
        using var images = TinyVlm.Images(2, 9);
        using var noGrad = no_grad();
        Assert.Equal(TinyVlm.Bytes(a.vision_encoder.forward(images)), TinyVlm.Bytes(b.vision_encoder.forward(images)));
        Assert.Equal(new long[] { 2, 4, 16 }, a.vision_encoder.forward(images).shape);
    }
}
