using Forge.Model.Config;
using Forge.Model.Optim;
using Forge.Model.Runtime;
using Forge.Model.Tests.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Optim;

public class StepKernelsTests
{
    private static readonly OptimizerConfig Adam = new() { Lr = 1e-2, WeightDecay = 0.1, Betas = [0.9, 0.95], Eps = 1e-8 };

    private static List<(string Name, Parameter Parameter)> Parameters(Device device, ScalarType dtype)
    {
        var generator = new Generator(21);
        return new[] { ("a", new long[] { 37, 5 }), ("b", new long[] { 3 }), ("c", new long[] { 11, 2, 3 }) }
            .Select(p => (p.Item1, new Parameter(randn(p.Item2, generator: generator).to(dtype, device))))
            .ToList();
    }

    /// <summary>Three clipped steps of a quadratic loss; the norms and the final compute-dtype weights.</summary>
    private static (List<double> Norms, Tensor Weights) Train(StepKernels levers, Device device, ScalarType dtype)
    {
        var parameters = Parameters(device, dtype);
        using var optimizer = new MasterWeightAdamW(parameters, Adam, maxGradNorm: 1.0, levers: levers);
        var norms = new List<double>();
        for (var step = 0; step < 3; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.ZeroGrad();
            var loss = parameters.Select(p => p.Parameter.to(ScalarType.Float32).square().sum().mul(step + 1)).Aggregate((x, y) => x.add(y));
            loss.backward();
            norms.Add(optimizer.ClipGradNorm());
            optimizer.Apply(Adam.Lr);
        }
        return (norms, cat(parameters.Select(p => p.Parameter.detach().reshape(-1).to(ScalarType.Float32).cpu()).ToArray()));
    }

    [Fact]
    public void EveryLeverOnTakesTheStepsOfEveryLeverOffOnBf16Weights()
    {
        // On a CPU the bf16 norm and the compute-copy update run their composed forms: the same values.
        var (offNorms, offWeights) = Train(StepKernels.None, CPU, ScalarType.BFloat16);
        var (onNorms, onWeights) = Train(StepKernels.All, CPU, ScalarType.BFloat16);
        for (var i = 0; i < offNorms.Count; i++) Assert.True(Math.Abs(offNorms[i] - onNorms[i]) <= 1e-5 * offNorms[i], $"step {i}: norm {onNorms[i]} vs {offNorms[i]}");
        // The norms may differ in the last fp32 bit (another reduction order), so a weight may round to the neighbouring bf16 value.
        Assert.True(onWeights.allclose(offWeights, rtol: 8e-3, atol: 0), $"max diff {(onWeights - offWeights).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData("none", false, false, false, false, false, false, false, false, false, false)]
    [InlineData("all", true, true, true, true, true, true, true, true, true, true)]
    [InlineData("", true, true, true, true, false, true, true, true, true, true)]
    [InlineData("chunked-loss", true, false, false, false, false, false, false, false, false, false)]
    [InlineData(" adamw-kernel , bf16-clip-norm", false, true, true, false, false, false, false, false, false, false)]
    [InlineData("sdpa-gqa,jit-fusion", false, false, false, true, true, false, false, false, false, false)]
    [InlineData("loss-kernel,rope-kernel", false, false, false, false, false, true, false, true, false, false)]
    [InlineData("swiglu-kernel", false, false, false, false, false, false, true, false, false, false)]
    [InlineData("weight-grad-gemm", false, false, false, false, false, false, false, false, true, false)]
    [InlineData("add-norm-kernel", false, false, false, false, false, false, false, false, false, true)]
    public void LeverListsParseIntoTheirLevers(string text, bool loss, bool norm, bool adam, bool gqa, bool fusion, bool lossKernel, bool swiglu, bool rope, bool weightGemm, bool addNorm)
    {
        Assert.Equal(new StepKernels(loss, norm, adam, gqa, fusion, lossKernel, swiglu, rope, weightGemm, addNorm), StepKernels.Parse(text, "FORGE_STEP_KERNELS"));
    }

    [Fact]
    public void AnUnknownLeverIsRejectedWithTheSettingAndTheKnownNames()
    {
        var e = Assert.Throws<ArgumentException>(() => StepKernels.Parse("chunked-los", "FORGE_STEP_KERNELS"));
        Assert.Contains("FORGE_STEP_KERNELS = \"chunked-los\"", e.Message);
        Assert.Contains("chunked-loss", e.Message);
    }

    [Trait("Category", "Gpu")]
    [GpuFact]
    public void TheAdamWKernelTakesTheStepsOfTheComposedUpdateOnTheGpu()
    {
        var cudaDevice = new Device(DeviceType.CUDA, 0);
        var (offNorms, offWeights) = Train(StepKernels.None, cudaDevice, ScalarType.BFloat16);
        var (onNorms, onWeights) = Train(StepKernels.All, cudaDevice, ScalarType.BFloat16);
        for (var i = 0; i < offNorms.Count; i++) Assert.True(Math.Abs(offNorms[i] - onNorms[i]) <= 1e-5 * offNorms[i], $"step {i}: norm {onNorms[i]} vs {offNorms[i]}");
        // Same fp32 arithmetic; at most a bf16 rounding step apart where an fp32 master lands near a tie.
        Assert.True(onWeights.allclose(offWeights, rtol: 1e-2, atol: 0), $"max diff {(onWeights - offWeights).abs().max().item<float>()}");
    }
}
