using Forge.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>
/// <see cref="RotaryEmbedding"/>'s rotation as one autograd function. Composed it is a chunk, a cat
/// (a copy of the swapped halves), two multiplies and an add forward, and as many passes again
/// backward. Per position and frequency the rotation is a 2x2 matrix on the pair (x_i, x_{i+half}):
/// [[cos_i, ssin_i], [ssin_{i+half}, cos_{i+half}]] with the tables' signed sines, so forward is one
/// pass that reads x and writes the output, and backward the same pass with the matrix transposed
/// (the two sines swapped). Arithmetic in fp32 from the compute-dtype tables, one rounding per output.
/// On CUDA in bf16 it is an NVRTC kernel; elsewhere the same matrix runs as torch ops.
/// </summary>
public static unsafe class RotaryKernel
{
    private const string Source = CompiledKernels.Bf16Conversions + """
        // x and out: (rows, 2 * half) with row = (batch * seq + position) * heads + head; tables: (seq, 2 * half).
        extern "C" __global__ void rope_rotate(const unsigned short* __restrict__ x, const unsigned short* __restrict__ cos_table,
            const unsigned short* __restrict__ sin_table, unsigned short* __restrict__ out,
            long long pairs, int half, int heads, int seq, int transpose)
        {
            const long long stride = (long long)gridDim.x * blockDim.x;
            for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < pairs; k += stride)
            {
                const long long row = k / half;
                const int p = (int)(k - row * half);
                const int position = (int)((row / heads) % seq);
                const long long i = row * 2 * half + p, j = i + half;
                const int ti = position * 2 * half + p, tj = ti + half;
                const float xi = bf16_to_float(x[i]), xj = bf16_to_float(x[j]);
                const float ci = bf16_to_float(cos_table[ti]), cj = bf16_to_float(cos_table[tj]);
                float si = bf16_to_float(sin_table[ti]), sj = bf16_to_float(sin_table[tj]);
                if (transpose) { float t = si; si = sj; sj = t; }
                out[i] = float_to_bf16(ci * xi + si * xj);
                out[j] = float_to_bf16(sj * xi + cj * xj);
            }
        }
        """;

    private static readonly Lazy<CompiledKernels> Kernels = new(() => CompiledKernels.Compile(Source, ["rope_rotate"]));

    /// <summary>
    /// Rotates <paramref name="x"/> (B, T, heads, headDim) by the tables' first T rows, <paramref name="cos"/>
    /// and <paramref name="signedSin"/> (T, headDim) as <see cref="RotaryEmbedding"/> builds them; differentiable in x.
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor signedSin)
    {
        if (x.dim() != 4 || cos.dim() != 2 || cos.shape[0] != x.shape[1] || cos.shape[1] != x.shape[3] || !cos.shape.SequenceEqual(signedSin.shape))
            throw new ArgumentException($"RoPE of x [{string.Join(", ", x.shape)}] needs (T, headDim) tables, got cos [{string.Join(", ", cos.shape)}] and sin [{string.Join(", ", signedSin.shape)}]");
        return Function.apply(x, cos, signedSin);
    }

    /// <summary>Whether the kernel runs for these tensors (CUDA, bf16, contiguous).</summary>
    public static bool KernelApplies(params Tensor[] tensors) =>
        tensors.All(t => t.device.type == DeviceType.CUDA && t.dtype == ScalarType.BFloat16 && t.is_contiguous());

    private static Tensor Rotate(Tensor x, Tensor cos, Tensor signedSin, bool transpose)
    {
        if (!KernelApplies(x, cos, signedSin))
        {
            // The same 2x2 matrix from torch ops: out = x * cos + swap(x) * s, where s is the signed sine
            // for forward; the transpose multiplies by the swapped sine after the swap instead.
            var math = x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
            var (x32, c, s) = (x.to(math), cos.to(math).unsqueeze(1), signedSin.to(math).unsqueeze(1));
            Tensor Swap(Tensor t) { var h = t.chunk(2, -1); return cat([h[1], h[0]], -1); }
            var rotated = transpose ? Swap(x32.mul(s)) : Swap(x32).mul_(s);
            return x32.mul(c).add_(rotated).to(x.dtype);
        }
        var (b, t, heads, dim) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        var output = empty_like(x);
        var (px, pc, ps, po) = (TensorMemory.DataPointer(x), TensorMemory.DataPointer(cos), TensorMemory.DataPointer(signedSin), TensorMemory.DataPointer(output));
        var pairs = b * t * heads * (dim / 2);
        var (half, h, seq, flag) = ((int)(dim / 2), (int)heads, (int)t, transpose ? 1 : 0);
        void** args = stackalloc void*[9];
        args[0] = &px; args[1] = &pc; args[2] = &ps; args[3] = &po; args[4] = &pairs;
        args[5] = &half; args[6] = &h; args[7] = &seq; args[8] = &flag;
        var kernels = Kernels.Value;
        const uint block = 256;
        var blocks = (uint)Math.Max(1, Math.Min((pairs + block - 1) / block, kernels.MultiprocessorCount * 16L));
        kernels.Launch("rope_rotate", blocks, block, args);
        return output;
    }

    private sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => "RotaryKernel";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (x, cos, signedSin) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
            ctx.save_for_backward([cos, signedSin]);
            return Rotate(x.contiguous(), cos, signedSin, transpose: false);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var dx = Rotate(grad.contiguous(), saved[0], saved[1], transpose: true);
            BackwardTensors.Release([grad, .. saved]);
            return BackwardTensors.Return(dx, null, null);
        }
    }
}
