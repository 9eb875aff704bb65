using Forge.Model.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Modeling;

public class CrossAttentionTests
{
    private static CrossAttention Woken(int heads = 4, int kvHeads = 2)
    {
        manual_seed(3);
        var ca = new CrossAttention(32, heads, kvHeads);
        using (no_grad()) ca.o_proj.weight!.normal_(0, 0.2);
        return ca;
    }

    [Fact]
    public void ANewCrossAttentionBlockIsBitIdenticalToTheIdentity()
    {
        manual_seed(1);
        using var block = new CrossAttentionBlock(32, 4, 2, 48, 1e-5);
        using var x = randn(2, 5, 32);
        using var image = randn(2, 6, 32);
        using var mask = tensor(new[,] { { true, true, false, true, true, true }, { true, true, true, true, true, true } });
        using var y = block.forward(x, image, mask);
        Assert.Equal(TinyVlm.Bytes(x), TinyVlm.Bytes(y));
    }

    [Fact]
    public void AnAllTrueImageMaskEqualsNoMask()
    {
        using var ca = Woken();
        using var x = randn(2, 5, 32);
        using var image = randn(2, 6, 32);
        using var all = ones(2, 6, ScalarType.Bool);
        using var unmasked = ca.forward(x, image, null);
        using var masked = ca.forward(x, image, all);
        Assert.True(masked.allclose(unmasked, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void MaskingAnImageTokenEqualsRemovingIt()
    {
        using var ca = Woken();
        using var x = randn(1, 5, 32);
        using var image = randn(1, 6, 32);
        using var mask = ones(1, 6, ScalarType.Bool);
        mask[0, 2] = tensor(false);
        using var kept = cat([image.narrow(1, 0, 2), image.narrow(1, 3, 3)], 1);
        using var masked = ca.forward(x, image, mask);
        using var removed = ca.forward(x, kept, null);
        using var unmasked = ca.forward(x, image, null);
        Assert.True(masked.allclose(removed, rtol: 1e-5, atol: 1e-6));
        Assert.False(masked.allclose(unmasked, rtol: 1e-5, atol: 1e-6)); // the token did matter
    }

    [Fact]
    public void ASampleWithEveryImageTokenMaskedGivesNoNaNAndLeavesOtherSamplesAlone()
    {
        using var ca = Woken();
        using var x = randn(2, 5, 32);
        using var image = randn(2, 6, 32);
        using var mask = ones(2, 6, ScalarType.Bool);
        mask[1] = zeros(6, ScalarType.Bool);
        using var y = ca.forward(x, image, mask);
        using var reference = ca.forward(x, image, null);
        Assert.False(y.isnan().any().item<bool>());
        Assert.True(y[0].allclose(reference[0], rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void GroupedQueryCrossAttentionEqualsMHAWithRepeatedKVWeights()
    {
        using var gqa = Woken(heads: 4, kvHeads: 2);
        using var mha = new CrossAttention(32, 4, 4);
        CopyWithRepeatedKv(gqa.q_proj.weight!, gqa.k_proj.weight!, gqa.v_proj.weight!, gqa.o_proj.weight!,
            mha.q_proj.weight!, mha.k_proj.weight!, mha.v_proj.weight!, mha.o_proj.weight!, heads: 4, kvHeads: 2);
        using var x = randn(2, 5, 32);
        using var image = randn(2, 6, 32);
        Assert.True(gqa.forward(x, image, null).allclose(mha.forward(x, image, null), rtol: 1e-5, atol: 1e-6));
    }

    /// <summary>Query head h reads kv head h / rep, so an MHA with each kv head's rows repeated rep times is the same function.</summary>
    internal static void CopyWithRepeatedKv(Tensor q, Tensor k, Tensor v, Tensor o, Tensor mq, Tensor mk, Tensor mv, Tensor mo, int heads, int kvHeads)
    {
        using var noGrad = no_grad();
        var headDim = q.shape[0] / heads;
        var rep = heads / kvHeads;
        mq.copy_(q);
        mo.copy_(o);
        mk.copy_(k.view(kvHeads, headDim, -1).repeat_interleave(rep, 0).reshape(heads * headDim, -1));
        mv.copy_(v.view(kvHeads, headDim, -1).repeat_interleave(rep, 0).reshape(heads * headDim, -1));
    }
}
