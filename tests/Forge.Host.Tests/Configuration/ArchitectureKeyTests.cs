using Forge.Host.Configuration;

namespace Forge.Host.Tests.Configuration;

/// <summary>KempnerForge's MoE keys in [model] and MoT keys in [vlm]: read under their names, checked with errors that name them.</summary>
public sealed class ArchitectureKeyTests
{
    private const string File = "jobs/arch.toml";

    private static ConfigError SingleError(string toml)
    {
        var e = Assert.Throws<ConfigException>(() => JobConfigLoader.Parse(toml, File));
        return Assert.Single(e.Errors);
    }

    [Fact]
    public void KempnerForgesMoeKeysBindToTheModelConfig()
    {
        var config = JobConfigLoader.Parse("""
            [model]
            num_experts = 8
            moe_top_k = 1
            moe_frequency = 2
            moe_router = "softmax_topk"
            moe_shared_experts = 1
            moe_capacity_factor = 1.25
            moe_aux_loss_weight = 0.02
            moe_router_z_loss_weight = 0.001
            """, File);

        var m = config.Model;
        Assert.Equal((8, 1, 2, "softmax_topk", 1), (m.NumExperts, m.MoeTopK, m.MoeFrequency, m.MoeRouter, m.MoeSharedExperts));
        Assert.Equal((1.25, 0.02, 0.001), (m.MoeCapacityFactor, m.MoeAuxLossWeight, m.MoeRouterZLossWeight));
    }

    [Fact]
    public void AnUnknownRouterIsAnErrorNamingTheChoices()
    {
        var error = SingleError("[model]\nnum_experts = 4\nmoe_router = \"sigmoid_topk\"\n");

        Assert.Equal(("model.moe_router", "\"sigmoid_topk\""), (error.Key, error.Value));
        Assert.Contains("\"softmax_topk\"", error.Expected);
        Assert.Equal(3, error.Location.Line);
    }

    [Theory]
    [InlineData("[model]\nnum_experts = 4\nmoe_top_k = 5\n", "model.moe_top_k", "at most model.num_experts (4)")]
    [InlineData("[model]\nnum_experts = 4\nmoe_frequency = 9\n", "model.moe_frequency", "at most model.n_layers (4), or no layer gets an MoE MLP")]
    [InlineData("[model]\nmoe_capacity_factor = -1.0\n", "model.moe_capacity_factor", "0 (no token dropped) or a positive factor")]
    [InlineData("[model]\nnum_experts = -2\n", "model.num_experts", "0 (dense MLPs) or a positive expert count")]
    [InlineData("[vlm]\narch = \"mot\"\nmot_image_n_heads = 2\n", "vlm.mot_image_n_heads", "0 or model.n_heads (4): one attention over both modalities needs equal head counts")]
    [InlineData("[vlm]\narch = \"mot\"\nmot_warm_start_from_text = true\n", "vlm.mot_warm_start_path", "the path of a dense text-stack safetensors file when vlm.mot_warm_start_from_text = true")]
    [InlineData("[model]\nnum_experts = 2\n[vlm]\narch = \"mot\"\n", "model.num_experts", "0 with vlm.arch = \"mot\": MoE MLPs inside MoT blocks are not supported")]
    public void AnImpossibleArchitectureSettingNamesTheKeyAndTheExpectation(string toml, string key, string expected)
    {
        var error = SingleError(toml);

        Assert.Equal((key, expected), (error.Key, error.Expected));
    }

    [Fact]
    public void KempnerForgesMotKeysBindToTheVlmConfig()
    {
        var config = JobConfigLoader.Parse("""
            [vlm]
            arch = "mot"
            mot_image_n_heads = 4
            mot_image_n_kv_heads = 4
            mot_warm_start_from_text = true
            mot_warm_start_path = "runs/text/weights.safetensors"
            """, File);

        var v = config.Vlm;
        Assert.Equal(("mot", 4, 4, true, "runs/text/weights.safetensors"),
            (v.Arch, v.MotImageNHeads, v.MotImageNKvHeads, v.MotWarmStartFromText, v.MotWarmStartPath));
    }
}
