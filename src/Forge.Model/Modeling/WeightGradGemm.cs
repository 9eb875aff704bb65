using Forge.Model.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>
/// A bias-free linear layer whose backward adds the weight gradient into the weight's existing
/// gradient inside the GEMM (addmm_ with beta 1). The trainer binds every gradient to a view of the
/// flat gradient buffer, so autograd's own path computes each weight gradient into a new tensor and
/// then adds it into that view: an extra pass that reads both and writes one, about 5.7 GB a step for
/// ca-1b's 0.95 B projection weights. Where the weight has no gradient yet (nothing bound), or the
/// bound gradient cannot take the GEMM's output in place, the gradient is returned to autograd as usual.
/// </summary>
public static class WeightGradGemm
{
    /// <summary><paramref name="layer"/>(<paramref name="x"/>), through this function when the weight-grad-gemm lever is on.</summary>
    public static Tensor Project(Linear layer, Tensor x) =>
        StepKernels.Current.WeightGradGemm && layer.bias is null && is_grad_enabled()
            ? Function.apply(x, layer.weight!, new Weight(layer.weight!, x.requires_grad, layer.weight!.requires_grad))
            : layer.forward(x);

    // The parameter itself (its bound gradient is read in backward) and which inputs want gradients.
    private sealed record Weight(Parameter Parameter, bool InputNeedsGrad, bool WeightNeedsGrad);

    private sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => "WeightGradGemm";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (x, weight) = ((Tensor)vars[0], (Tensor)vars[1]);
            ctx.save_for_backward([x, weight]);
            ctx.save_data("weight", vars[2]);
            return nn.functional.linear(x, weight);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var (x, weight) = (saved[0], saved[1]);
            var info = (Weight)ctx.get_data("weight");
            var dx = info.InputNeedsGrad ? grad.matmul(weight) : null;
            Tensor? dWeight = null;
            if (info.WeightNeedsGrad)
            {
                var g2 = grad.reshape(-1, grad.shape[^1]);
                var x2 = x.reshape(-1, x.shape[^1]);
                var bound = info.Parameter.grad;
                if (bound is not null && bound.is_contiguous() && bound.dtype == grad.dtype
                    && bound.device_type == grad.device_type && bound.device_index == grad.device_index)
                    bound.addmm_(g2.t(), x2);
                else
                    dWeight = g2.t().matmul(x2);
                bound?.Dispose();
            }
            BackwardTensors.Release([grad, .. saved]);
            return BackwardTensors.Return(dx, dWeight, null);
        }
    }
}
