using Forge.Model.Modeling;

namespace Forge.Model.Tests.Modeling;

public class ParameterNameTests
{
    [Fact]
    public void ParameterNamesAreKempnerForgeStateDictNames()
    {
        using var model = TinyVlm.Build(TinyVlm.Config(caEvery: 1));
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        string[] expected =
        [
            "transformer.token_embedding.embedding.weight",
            "transformer.layers.0.attention.q_proj.weight",
            "transformer.layers.0.attention.k_proj.weight",
            "transformer.layers.0.attention.v_proj.weight",
            "transformer.layers.0.attention.o_proj.weight",
            "transformer.layers.0.attention_norm.weight",
            "transformer.layers.0.mlp_norm.weight",
            "transformer.layers.0.mlp.gate_proj.weight",
            "transformer.layers.0.mlp.up_proj.weight",
            "transformer.layers.0.mlp.down_proj.weight",
            "transformer.layers.1.attention.q_proj.weight",
            "transformer.cross_attention_layers.0.attn.q_proj.weight",
            "transformer.cross_attention_layers.0.attn.k_proj.weight",
            "transformer.cross_attention_layers.0.attn.v_proj.weight",
            "transformer.cross_attention_layers.0.attn.o_proj.weight",
            "transformer.cross_attention_layers.0.attn_norm.weight",
            "transformer.cross_attention_layers.0.mlp_norm.weight",
            "transformer.cross_attention_layers.0.mlp.down_proj.weight",
            "transformer.cross_attention_layers.1.attn.o_proj.weight",
            "transformer.norm.weight",
            "transformer.output_head.proj.weight",
            "adapter.proj1.weight",
            "adapter.proj1.bias",
            "adapter.proj2.weight",
            "adapter.proj2.bias",
        ];
        foreach (var name in expected) Assert.Contains(name, names);
        Assert.All(names, n => Assert.Matches("^(vision_encoder|adapter|transformer)\\.", n));
        // Biases exist only in the adapter and the ViT: the text side is bias-free.
        Assert.DoesNotContain(names, n => n.StartsWith("transformer.") && n.EndsWith(".bias"));
        Assert.DoesNotContain("transformer.cross_attention_layers.2.attn.o_proj.weight", names);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 1)]
    public void OneCrossAttentionBlockPerNTextLayers(int every, int blocks)
    {
        using var model = TinyVlm.Build(TinyVlm.Config(caEvery: every));
        Assert.Equal(blocks, model.transformer.cross_attention_layers.Count);
    }

    [Fact]
    public void LinearAdapterIsNamedAdapterProj()
    {
        var config = TinyVlm.Config() with { Adapter = new Forge.Model.Config.AdapterConfig { Type = "linear" } };
        using var model = TinyVlm.Build(config);
        var adapterNames = model.named_parameters().Select(p => p.name).Where(n => n.StartsWith("adapter.")).Order();
        Assert.Equal(["adapter.proj.bias", "adapter.proj.weight"], adapterNames);
    }
}
