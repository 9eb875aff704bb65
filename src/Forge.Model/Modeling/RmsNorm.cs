using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling;

/// <summary>
/// Root-mean-square norm with a learned scale (no bias, no mean subtraction), through torch's
/// rms_norm: one fused kernel each way on CUDA, with the statistic accumulated in fp32 whatever the
/// compute dtype (a bf16 mean of squares over 2048 features would shift activations).
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    // Field names are the state-dict names (KempnerForge: *.attention_norm.weight).
    public readonly Parameter weight;
    private readonly double _eps;

    public RmsNorm(int dim, double eps, Device? device = null) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(dim, ScalarType.Float32, device));
        _eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        AtenKernels.Enabled ? AtenKernels.RmsNorm(x, weight, _eps) : Composed(x, weight, _eps);

    /// <summary>
    /// The residual stream's next value, <paramref name="residual"/> + <paramref name="pending"/>, and its norm;
    /// with nothing pending, the residual itself. With the add-norm-kernel lever on, the add and the norm are
    /// one pass each way (<see cref="ResidualRmsNorm"/>).
    /// </summary>
    public (Tensor Sum, Tensor Normed) AfterAdd(Tensor residual, Tensor? pending)
    {
        if (pending is null) return (residual, forward(residual));
        if (StepKernels.Current.AddNormKernel) return ResidualRmsNorm.Apply(residual, pending, weight, _eps);
        var sum = residual.Plus(pending);
        return (sum, forward(sum));
    }

    /// <summary>The same function from elementary ops (eight kernels each way on CUDA).</summary>
    public static Tensor Composed(Tensor x, Tensor weight, double eps)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(ScalarType.Float32);
        var normed = x32.mul(x32.square().mean([-1], keepdim: true).PlusScalarInPlace(eps).rsqrt_());
        return normed.to(x.dtype).mul(weight).MoveToOuterDisposeScope();
    }
}
