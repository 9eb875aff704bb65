using Forge.Model.Config;
using Forge.Model.Data;
using Forge.Model.Text;
using Forge.Model.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Modeling;

public class TrainingSignalTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void AtStepZeroOnlyTheZeroInitialisedCrossAttentionProjectionsGetGradientOnTheVisionPath()
    {
        // With o_proj and down_proj at zero every CA block is the identity, so nothing upstream of those
        // two matrices (q/k/v, norms, gate/up, the adapter) can influence the loss yet: their gradients
        // are exactly zero. The zero matrices themselves see non-zero inputs and non-zero output
        // gradients, so they are the ones that learn first. The text layers train as usual.
        using var model = TinyVlm.Build();
        using var images = TinyVlm.Images(2, 5);
        using var ids = TinyVlm.Ids(2, 8, 6);
        using var batch = TinyVlm.Batch(images, ids);
        var (loss, _) = model.LossSum(batch);
        loss.backward();

        foreach (var (name, p) in model.named_parameters())
        {
            if (name.StartsWith("vision_encoder."))
            {
                Assert.False(p.requires_grad, $"{name} should be frozen by default");
                Assert.True(p.grad is null, $"{name} got a gradient while frozen");
                continue;
            }
            var gradAbsMax = p.grad!.abs().max().item<float>();
            var zeroInitProjection = name.StartsWith("transformer.cross_attention_layers.") &&
                                     (name.EndsWith(".attn.o_proj.weight") || name.EndsWith(".mlp.down_proj.weight"));
            if (name.StartsWith("adapter.") || name.StartsWith("transformer.cross_attention_layers."))
            {
                if (zeroInitProjection) Assert.True(gradAbsMax > 0, $"{name} should receive gradient at step 0");
                else Assert.True(gradAbsMax == 0, $"{name} should have zero gradient at step 0, max |g| = {gradAbsMax}");
            }
            else Assert.True(gradAbsMax > 0, $"text parameter {name} should receive gradient");
        }
    }

    [Fact]
    public void TheLossScoresEachPositionAgainstTheNextToken()
    {
        // A "copy" model (logits at t point at input t) must NOT get a low loss; a next-token oracle must.
        // An unshifted loss would reward the copy model with ~0 (the seed's bug).
        using var ids = tensor(new long[,] { { 1, 5, 9, 4, 7, 2 }, { 1, 6, 3, 8, 2, 0 } });
        using var labels = ids.clone();
        labels[TensorIndex.Colon, 0] = tensor(CaptionEncoder.IgnoreIndex);
        labels[1, 5] = tensor(CaptionEncoder.IgnoreIndex); // padding
        const int vocab = 12;
        using var copy = nn.functional.one_hot(ids, vocab).to(ScalarType.Float32).mul(20);
        using var nextIds = cat([ids.narrow(1, 1, 5), zeros(2, 1, ScalarType.Int64)], 1);
        using var oracle = nn.functional.one_hot(nextIds, vocab).to(ScalarType.Float32).mul(20);

        var (copyLoss, tokens) = CaptionLoss.Sum(copy, labels);
        var (oracleLoss, _) = CaptionLoss.Sum(oracle, labels);
        Assert.Equal(9, tokens); // 5 targets in row 0, 4 in row 1 (BOS and the pad position are skipped)
        Assert.True(oracleLoss.item<float>() / tokens < 1e-3, $"oracle loss {oracleLoss.item<float>()}");
        Assert.True(copyLoss.item<float>() / tokens > 10, $"copy loss {copyLoss.item<float>()}");
    }

    [Fact]
    public void IgnoredPositionsDoNotChangeTheLoss()
    {
        using var logits = randn(2, 6, 12, generator: new Generator(3));
        using var labels = tensor(new long[,] { { -100, 5, 9, -100, -100, -100 }, { -100, 6, 3, 8, 2, -100 } });
        var (before, n) = CaptionLoss.Sum(logits, labels);
        using var changed = logits.clone();
        changed[0, 3] = randn(12); // predicts labels[0, 4] = -100
        changed[1, 5] = randn(12); // last position predicts nothing
        var (after, m) = CaptionLoss.Sum(changed, labels);
        Assert.Equal(n, m);
        Assert.Equal(before.item<float>(), after.item<float>());
    }

    [Fact]
    public void LossSumCountsTheBatchTargetTokens()
    {
        using var model = TinyVlm.Build();
        using var batch = TinyVlm.Batch(TinyVlm.Images(3, 1), TinyVlm.Ids(3, 8, 2));
        var (loss, tokens) = model.LossSum(batch);
        Assert.Equal(batch.TargetTokens(), tokens);
        Assert.Equal(3 * 7, tokens);
        // At init the per-token loss is near log(vocab): the head is not yet informative.
        Assert.InRange(loss.item<float>() / tokens, 0.8 * Math.Log(24), 1.2 * Math.Log(24));
    }

    [Fact]
    public void ATinyModelOverfitsCaptionsAndReliesOnTheImages()
    {
        // Four solid-colour images, each with its own caption; the first caption token is knowable
        // only from the image, so after training the real images must beat blank ones clearly.
        var config = TinyVlm.Config();
        using var model = TinyVlm.Build(config);
        var colours = new[] { (0.9f, 0.1f, 0.1f), (0.1f, 0.9f, 0.1f), (0.1f, 0.1f, 0.9f), (0.9f, 0.9f, 0.1f) };
        using var images = stack(colours.Select(c => stack([full(8, 8, c.Item1), full(8, 8, c.Item2), full(8, 8, c.Item3)])).ToArray());
        using var ids = tensor(new long[,]
        {
            { 1, 3, 7, 11, 15, 2 },
            { 1, 4, 8, 12, 16, 2 },
            { 1, 5, 9, 13, 17, 2 },
            { 1, 6, 10, 14, 18, 2 },
        });
        using var batch = TinyVlm.Batch(images, ids);
        using var blank = TinyVlm.Batch(zeros_like(images), ids);

        var trainable = model.parameters().Where(p => p.requires_grad).ToList();
        using var optimizer = optim.AdamW(trainable, lr: 1e-2, weight_decay: 0.0);
        double Loss(Forge.Model.Data.ImageTextBatch b)
        {
            using var noGrad = no_grad();
            var (sum, n) = model.LossSum(b);
            return sum.item<float>() / n;
        }

        var initial = Loss(batch);
        for (var step = 0; step < 80; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var (sum, n) = model.LossSum(batch);
            sum.div(n).backward();
            optimizer.step();
        }
        var final = Loss(batch);
        var blankLoss = Loss(blank);
        output.WriteLine($"per-token loss: initial {initial:F3}, final {final:F3}, blank images {blankLoss:F3}");
        Assert.True(final < 0.5 * initial, $"loss {initial:F3} -> {final:F3}");
        Assert.True(final < 0.5 * blankLoss, $"real-image loss {final:F3} vs blank-image loss {blankLoss:F3}");
    }
}
