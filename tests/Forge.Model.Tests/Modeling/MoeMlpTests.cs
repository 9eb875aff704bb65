using Forge.Model.Config;
using Forge.Model.Modeling;
using Forge.Model.Modeling.Moe;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Modeling;

public class MoeMlpTests
{
    [Fact]
    public void OneExpertWithTop1EqualsTheDenseMLPWithTheSameWeights()
    {
        manual_seed(3);
        using var moe = new MoeMlp(16, 32, experts: 1, topK: 1, sharedExperts: 0, capacityFactor: 0);
        using var dense = new SwiGluMlp(16, 32);
        CopyMlp(moe.experts[0], dense);
        using var x = randn(2, 5, 16);
        using var routing = new RoutingLog();
        using var noGrad = no_grad();

        using var routed = moe.forward(x, routing);
        using var expected = dense.forward(x);

        Assert.True(routed.sub(expected).abs().max().item<float>() < 1e-6f);
        using var received = routing.Received();
        Assert.Equal(10f, received[0, 0].item<float>());
    }

    [Fact]
    public void ADecoderWithOneExpertAndTop1GivesTheDenseDecodersLogits()
    {
        var dense = TinyVlm.Config("joint_decoder");
        var moe = dense with { Model = dense.Model with { NumExperts = 1, MoeTopK = 1, MoeFrequency = 1 } };
        using var denseModel = TinyVlm.Build(dense);
        using var moeModel = TinyVlm.Build(moe);
        var source = denseModel.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (no_grad())
            foreach (var (name, p) in moeModel.named_parameters())
            {
                if (name.Contains(".mlp.router.", StringComparison.Ordinal)) continue;
                p.copy_(source[name.Replace(".mlp.experts.0.", ".mlp.", StringComparison.Ordinal)]);
            }
        using var images = TinyVlm.Images(2, 1);
        using var ids = TinyVlm.Ids(2, 8, 2);
        using var noGrad = no_grad();

        using var expected = denseModel.Logits(images, ids);
        using var actual = moeModel.Logits(images, ids);

        Assert.True(actual.allclose(expected, rtol: 0, atol: 1e-6), $"max |diff| = {actual.sub(expected).abs().max().item<float>()}");
    }

    [Fact]
    public void CapacityKeepsEachExpertsFirstTokensInSequenceOrderWhateverTheirScores()
    {
        // Six tokens, one slot, two experts, factor 0.5: capacity ceil(6 * 1 / 2 * 0.5) = 2 per expert.
        using var indices = tensor(new long[] { 0, 0, 1, 0, 1, 0 }).reshape(6, 1);
        // The last token has the highest score; KempnerForge drops it anyway, as the fourth in expert 0's queue.
        using var weights = tensor(new[] { 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.9f }).reshape(6, 1);

        using var kept = ExpertCapacity.Apply(weights, indices, experts: 2, factor: 0.5);

        Assert.Equal(2, ExpertCapacity.Of(6, 1, 2, 0.5));
        Assert.Equal(new[] { 0.1f, 0.2f, 0.3f, 0f, 0.5f, 0f }, kept.reshape(-1).data<float>().ToArray());
    }

    [Fact]
    public void CapacityCountsEachRoutingSlotOnItsOwn()
    {
        // Top-2 of 4 experts, four tokens, factor 0.5: capacity ceil(4 * 2 / 4 * 0.5) = 1 per expert and slot.
        // Expert 0 is token 0's first choice and token 1's second: one each in its two slots, both kept.
        // Token 3's first choice is expert 0 again, the second in slot 0's queue: dropped.
        using var indices = tensor(new long[] { 0, 1, 2, 0, 3, 2, 0, 3 }).reshape(4, 2);
        using var weights = full(4, 2, 0.5f);

        using var kept = ExpertCapacity.Apply(weights, indices, experts: 4, factor: 0.5);

        Assert.Equal(new[] { 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0f, 0.5f }, kept.reshape(-1).data<float>().ToArray());
    }

    [Fact]
    public void ATokenDroppedForCapacityGetsNothingFromTheRoutedExperts()
    {
        manual_seed(4);
        using var moe = new MoeMlp(8, 16, experts: 2, topK: 1, sharedExperts: 0, capacityFactor: 0.25);
        using var x = randn(1, 8, 8);
        using var routing = new RoutingLog();
        using var noGrad = no_grad();

        using var y = moe.forward(x, routing);

        // Capacity ceil(8 * 1 / 2 * 0.25) = 1 per expert: at most two tokens are computed, the rest give zero.
        using var received = routing.Received();
        var computed = (long)received.sum().item<float>();
        var nonZeroRows = y.reshape(8, 8).abs().sum(1).gt(0).sum().item<long>();
        Assert.InRange(computed, 1, 2);
        Assert.Equal(computed, nonZeroRows);
    }

    [Fact]
    public void UniformRouterProbabilitiesGiveABalanceLossOfOneAndAZLossOfLogExpertsSquared()
    {
        using var router = new SoftmaxTopKRouter(8, experts: 4, topK: 2);
        using (no_grad()) router.gate.weight!.zero_();
        using var x = randn(10, 8);

        var (weights, indices, aux, z, routed) = router.Route(x);

        // experts * sum_e f_e * (1/experts) = sum_e f_e = 1, whichever experts the ties pick.
        Assert.Equal(1.0, aux.item<float>(), 5);
        Assert.Equal(Math.Log(4) * Math.Log(4), z.item<float>(), 5);
        Assert.Equal(20f, routed.sum().item<float>());
        Assert.True(weights.sum(-1).allclose(ones(10)));
        foreach (var t in new[] { weights, indices, aux, z, routed }) t.Dispose();
    }

    [Fact]
    public void MoELayersSitWhereKempnerForgePutsThemUnderItsNames()
    {
        var config = TinyVlm.Config() with { Model = TinyVlm.Config().Model with { NLayers = 4, NumExperts = 3, MoeTopK = 2, MoeFrequency = 2, MoeSharedExperts = 1 } };
        config = config with { Vlm = config.Vlm with { CrossAttentionEveryNLayers = 2 } };
        using var model = TinyVlm.Build(config);
        var names = model.named_parameters().Select(p => p.name).ToHashSet();

        Assert.Contains("transformer.layers.0.mlp.gate_proj.weight", names);
        Assert.Contains("transformer.layers.1.mlp.router.gate.weight", names);
        Assert.Contains("transformer.layers.1.mlp.experts.2.down_proj.weight", names);
        Assert.Contains("transformer.layers.1.mlp.shared_expert.up_proj.weight", names);
        Assert.Contains("transformer.layers.3.mlp.experts.0.gate_proj.weight", names);
        Assert.DoesNotContain("transformer.layers.2.mlp.router.gate.weight", names);
        Assert.DoesNotContain("transformer.layers.1.mlp.experts.3.down_proj.weight", names);
        Assert.Equal(new long[] { 3, 32 }, model.named_parameters().Single(p => p.name == "transformer.layers.1.mlp.router.gate.weight").parameter.shape);
    }

    internal static void CopyMlp(SwiGluMlp from, SwiGluMlp to)
    {
        using var noGrad = no_grad();
        to.gate_proj.weight!.copy_(from.gate_proj.weight!);
        to.up_proj.weight!.copy_(from.up_proj.weight!);
        to.down_proj.weight!.copy_(from.down_proj.weight!);
    }
}
