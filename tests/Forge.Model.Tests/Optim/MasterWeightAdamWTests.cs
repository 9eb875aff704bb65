using Forge.Model.Config;
using Forge.Model.Modeling;
using Forge.Model.Optim;
using Forge.Model.Tests.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Optim;

public class MasterWeightAdamWTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void FlatAdamWWithClippingMatchesTorchAdamWOnTheSameModel(bool fusedKernel)
    {
        var optConfig = new OptimizerConfig { Lr = 1e-2, WeightDecay = 0.1, Betas = [0.9, 0.95], Eps = 1e-8 };
        const double clip = 0.5;
        using var flatModel = TinyVlm.Build();
        using var refModel = TinyVlm.Build();
        var trainable = flatModel.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        using var flat = new MasterWeightAdamW(trainable.Select(p => (p.name, p.parameter)), optConfig, clip, fusedKernel);
        var refParams = refModel.parameters().Where(p => p.requires_grad).ToList();
        using var reference = optim.AdamW(refParams, lr: optConfig.Lr, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1);

        for (var step = 0; step < 3; step++)
        {
            using var scope = NewDisposeScope();
            using var batch = TinyVlm.Batch(TinyVlm.Images(2, step), TinyVlm.Ids(2, 8, 100 + step));

            flat.ZeroGrad();
            flatModel.LossSum(batch).LossSum.backward();
            var norm = flat.ClipGradNorm();
            flat.Apply(optConfig.Lr);

            reference.zero_grad();
            refModel.LossSum(batch).LossSum.backward();
            var refNorm = nn.utils.clip_grad_norm_(refParams, clip);
            reference.step();

            Assert.True(Math.Abs(refNorm - norm) <= 1e-4 * refNorm, $"step {step}: grad norm {norm} vs torch {refNorm}");
            Assert.True(norm > clip, "the test should exercise clipping");
        }
        var want = refModel.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in flatModel.named_parameters())
            // Adam normalises tiny gradients (here ~1e-5) to lr-sized steps, so fp32 rounding shows at ~1e-6.
            Assert.True(p.allclose(want[name], rtol: 1e-4, atol: 1e-5), $"{name}: max diff {(p - want[name]).abs().max().item<float>()}");
    }

    [Fact]
    public void ParametersAndGradientsBecomeViewsOfTheFlatBuffers()
    {
        using var model = TinyVlm.Build();
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        using var flat = new MasterWeightAdamW(trainable.Select(p => (p.name, p.parameter)), new OptimizerConfig(), 1.0);
        Assert.Equal(trainable.Sum(p => p.parameter.numel()), flat.Numel);
        using var batch = TinyVlm.Batch(TinyVlm.Images(2, 1), TinyVlm.Ids(2, 8, 2));
        model.LossSum(batch).LossSum.backward();
        var first = flat.ClipGradNorm();
        // Backward accumulated into the flat buffer through the views: a second backward doubles the norm.
        model.LossSum(batch).LossSum.backward();
        Assert.Equal(2 * first, flat.ClipGradNorm(), 3);
        flat.ZeroGrad();
        Assert.Equal(0.0, flat.ClipGradNorm());
        Assert.All(trainable, p => Assert.Equal(0f, p.parameter.grad!.abs().max().item<float>()));
    }
}
