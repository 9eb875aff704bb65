using Forge.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>
/// The SwiGLU gate silu(gate) * up as one autograd function with its own backward. Composed, autograd
/// runs silu, a multiply, and in backward two multiplies and silu's backward (nine passes over the
/// (tokens, ffn) activations) and saves silu(gate) besides gate and up, 92 MiB a layer at ca-1b. Here
/// forward is one pass and backward one pass that reads the gradient, gate and up and writes both
/// gradients, with silu recomputed from gate; arithmetic in fp32, one rounding per output. On CUDA in
/// bf16 both are NVRTC kernels; elsewhere the same formulas run as torch ops (the CPU tests hold
/// them to autograd's gradients of the composed gate).
/// </summary>
public static unsafe class SwiGluGate
{
    private const string Source = CompiledKernels.Bf16Conversions + """
        __device__ __forceinline__ float sigmoid(float a) { return 1.0f / (1.0f + expf(-a)); }

        extern "C" __global__ void swiglu_forward(const unsigned short* __restrict__ gate, const unsigned short* __restrict__ up,
            unsigned short* __restrict__ out, long long n)
        {
            const long long stride = (long long)gridDim.x * blockDim.x;
            const long long vectors = n / 4;
            const ushort4* g4 = reinterpret_cast<const ushort4*>(gate);
            const ushort4* u4 = reinterpret_cast<const ushort4*>(up);
            ushort4* o4 = reinterpret_cast<ushort4*>(out);
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < vectors; i += stride)
            {
                ushort4 g = g4[i], u = u4[i];
                float a0 = bf16_to_float(g.x), a1 = bf16_to_float(g.y), a2 = bf16_to_float(g.z), a3 = bf16_to_float(g.w);
                o4[i] = make_ushort4(
                    float_to_bf16(a0 * sigmoid(a0) * bf16_to_float(u.x)), float_to_bf16(a1 * sigmoid(a1) * bf16_to_float(u.y)),
                    float_to_bf16(a2 * sigmoid(a2) * bf16_to_float(u.z)), float_to_bf16(a3 * sigmoid(a3) * bf16_to_float(u.w)));
            }
            for (long long i = vectors * 4 + (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
            {
                float a = bf16_to_float(gate[i]);
                out[i] = float_to_bf16(a * sigmoid(a) * bf16_to_float(up[i]));
            }
        }

        __device__ __forceinline__ void swiglu_grad(float g, float a, float b, unsigned short& dgate, unsigned short& dup)
        {
            float s = sigmoid(a);
            dup = float_to_bf16(g * a * s);
            dgate = float_to_bf16(g * b * s * (1.0f + a * (1.0f - s)));
        }

        extern "C" __global__ void swiglu_backward(const unsigned short* __restrict__ grad, const unsigned short* __restrict__ gate,
            const unsigned short* __restrict__ up, unsigned short* __restrict__ dgate, unsigned short* __restrict__ dup, long long n)
        {
            const long long stride = (long long)gridDim.x * blockDim.x;
            const long long vectors = n / 4;
            const ushort4* r4 = reinterpret_cast<const ushort4*>(grad);
            const ushort4* g4 = reinterpret_cast<const ushort4*>(gate);
            const ushort4* u4 = reinterpret_cast<const ushort4*>(up);
            ushort4* dg4 = reinterpret_cast<ushort4*>(dgate);
            ushort4* du4 = reinterpret_cast<ushort4*>(dup);
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < vectors; i += stride)
            {
                ushort4 r = r4[i], g = g4[i], u = u4[i], dg, du;
                swiglu_grad(bf16_to_float(r.x), bf16_to_float(g.x), bf16_to_float(u.x), dg.x, du.x);
                swiglu_grad(bf16_to_float(r.y), bf16_to_float(g.y), bf16_to_float(u.y), dg.y, du.y);
                swiglu_grad(bf16_to_float(r.z), bf16_to_float(g.z), bf16_to_float(u.z), dg.z, du.z);
                swiglu_grad(bf16_to_float(r.w), bf16_to_float(g.w), bf16_to_float(u.w), dg.w, du.w);
                dg4[i] = dg; du4[i] = du;
            }
            for (long long i = vectors * 4 + (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
                swiglu_grad(bf16_to_float(grad[i]), bf16_to_float(gate[i]), bf16_to_float(up[i]), dgate[i], dup[i]);
        }
        """;

    private static readonly Lazy<CompiledKernels> Kernels = new(() => CompiledKernels.Compile(Source, ["swiglu_forward", "swiglu_backward"]));

    /// <summary>silu(gate) * up, differentiable in both.</summary>
    public static Tensor Apply(Tensor gate, Tensor up)
    {
        if (!gate.shape.SequenceEqual(up.shape))
            throw new ArgumentException($"SwiGLU gate [{string.Join(", ", gate.shape)}] and up [{string.Join(", ", up.shape)}] differ in shape");
        return Function.apply(gate, up);
    }

    /// <summary>Whether the kernels run for these tensors (CUDA, bf16, contiguous, 8-byte aligned).</summary>
    public static bool KernelApplies(params Tensor[] tensors) =>
        tensors.All(t => t.device.type == DeviceType.CUDA && t.dtype == ScalarType.BFloat16 && t.is_contiguous()
                         && (long)TensorMemory.DataPointer(t) % 8 == 0);

    private static Tensor Forward(Tensor gate, Tensor up)
    {
        if (!KernelApplies(gate, up)) return nn.functional.silu(gate.to(OpMath(gate))).mul_(up.to(OpMath(gate))).to(gate.dtype);
        var output = empty_like(gate);
        Launch("swiglu_forward", gate.numel(), [TensorMemory.DataPointer(gate), TensorMemory.DataPointer(up), TensorMemory.DataPointer(output)]);
        return output;
    }

    private static (Tensor Gate, Tensor Up) Backward(Tensor grad, Tensor gate, Tensor up)
    {
        if (!KernelApplies(grad, gate, up))
        {
            var math = OpMath(gate);
            var (g, a, b) = (grad.to(math), gate.to(math), up.to(math));
            var s = a.sigmoid();
            var dUp = g.mul(a).mul_(s);
            var dGate = g.mul(b).mul_(s).mul_(a.mul(s.neg().add_(1)).add_(1));
            return (dGate.to(gate.dtype), dUp.to(up.dtype));
        }
        var (dg, du) = (empty_like(gate), empty_like(up));
        Launch("swiglu_backward", gate.numel(), [TensorMemory.DataPointer(grad), TensorMemory.DataPointer(gate), TensorMemory.DataPointer(up),
            TensorMemory.DataPointer(dg), TensorMemory.DataPointer(du)]);
        return (dg, du);
    }

    // fp32 arithmetic for the narrower dtypes, as the kernels do; fp64 stays fp64.
    private static ScalarType OpMath(Tensor t) => t.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    private static void Launch(string name, long n, IntPtr[] pointers)
    {
        var kernels = Kernels.Value;
        var values = stackalloc IntPtr[pointers.Length];
        void** args = stackalloc void*[pointers.Length + 1];
        for (var i = 0; i < pointers.Length; i++)
        {
            values[i] = pointers[i];
            args[i] = &values[i];
        }
        args[pointers.Length] = &n;
        const uint block = 256;
        var blocks = (uint)Math.Max(1, Math.Min((n / 4 + block - 1) / block, kernels.MultiprocessorCount * 16L));
        kernels.Launch(name, blocks, block, args);
    }

    private sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => "SwiGluGate";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (gate, up) = ((Tensor)vars[0], (Tensor)vars[1]);
            ctx.save_for_backward([gate, up]);
            return Forward(gate, up);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var (dGate, dUp) = Backward(grad.contiguous(), saved[0], saved[1]);
            BackwardTensors.Release([grad, .. saved]);
            return BackwardTensors.Return(dGate, dUp);
        }
    }
}
