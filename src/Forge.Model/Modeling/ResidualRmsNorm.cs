using Forge.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>
/// The residual add and the RMSNorm after it as one autograd function: h = x + delta, and
/// y = h * rsqrt(mean(h^2) + eps) * weight over the last axis, with both outputs. Composed, the add is
/// a pass that reads two tensors and writes one, and the norm another that reads h again; backward,
/// the norm's gradient is one pass and autograd's sum of it with the residual path's gradient another.
/// Here forward reads x and delta once and writes h and y; backward reads dy, h and the residual path's
/// gradient once and writes the sum, so the two inputs' gradient (the same tensor) costs one pass. The
/// weight's gradient is summed per block of rows in the same pass and the blocks' partial sums by torch.
/// Arithmetic in fp32; h is rounded to the compute dtype first (as the composed add stores it) and the
/// statistic is taken over the rounded h, as the composed norm reads it. Saved for backward: h, which is
/// also the residual stream's next value, and one fp32 rstd per row. On CUDA in bf16 both directions
/// are NVRTC kernels; elsewhere the same formulas run as torch ops (the CPU tests hold them to
/// autograd's gradients of the composed add and norm).
/// </summary>
public static unsafe class ResidualRmsNorm
{
    // One block per row at a time (grid-stride over rows); each thread owns `PerThread` consecutive
    // features per chunk of 256 * 8, loaded as one 16-byte vector. One kernel per chunk count (widths
    // 2048 to 8192), so a row's values live in registers sized at compile time.
    private const int Threads = 256;
    private const int PerThread = 8;

    private const string Source = CompiledKernels.Bf16Conversions + """
        #define THREADS 256
        #define PER_THREAD 8

        // Sum over the block; every thread gets the total. `scratch` holds one float per warp.
        __device__ __forceinline__ float block_sum(float v, float* scratch)
        {
            for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
            const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
            __syncthreads();                      // scratch may still be read from the previous row
            if (lane == 0) scratch[warp] = v;
            __syncthreads();
            float total = 0.0f;
            for (int w = 0; w < THREADS / 32; w++) total += scratch[w];
            return total;
        }

        __device__ __forceinline__ void load8(const unsigned short* p, float* v)
        {
            const uint4 raw = *reinterpret_cast<const uint4*>(p);
            const unsigned int w[4] = { raw.x, raw.y, raw.z, raw.w };
            for (int k = 0; k < 4; k++) { v[2 * k] = bf16_to_float((unsigned short)(w[k] & 0xffffu)); v[2 * k + 1] = bf16_to_float((unsigned short)(w[k] >> 16)); }
        }

        __device__ __forceinline__ void store8(unsigned short* p, const float* v)
        {
            uint4 raw;
            unsigned int* w = reinterpret_cast<unsigned int*>(&raw);
            for (int k = 0; k < 4; k++) w[k] = (unsigned int)float_to_bf16(v[2 * k]) | ((unsigned int)float_to_bf16(v[2 * k + 1]) << 16);
            *reinterpret_cast<uint4*>(p) = raw;
        }

        // x, delta, h, y: (rows, dim) bf16; weight: (dim) bf16; rstd: (rows) fp32. dim = THREADS * PER_THREAD * CHUNKS,
        // CHUNKS a compile-time count, so a row's values stay in registers between the statistic and the output.
        template <int CHUNKS>
        __device__ __forceinline__ void add_rms_norm_forward(const unsigned short* __restrict__ x, const unsigned short* __restrict__ delta,
            const unsigned short* __restrict__ weight, unsigned short* __restrict__ h, unsigned short* __restrict__ y,
            float* __restrict__ rstd, long long rows, int dim, float eps)
        {
            __shared__ float scratch[THREADS / 32];
            for (long long row = blockIdx.x; row < rows; row += gridDim.x)
            {
                const long long base = row * dim;
                float a[CHUNKS][PER_THREAD];
                float squares = 0.0f;
                #pragma unroll
                for (int c = 0; c < CHUNKS; c++)
                {
                    const long long at = base + ((long long)c * THREADS + threadIdx.x) * PER_THREAD;
                    float b[PER_THREAD];
                    load8(x + at, a[c]);
                    load8(delta + at, b);
                    #pragma unroll
                    for (int k = 0; k < PER_THREAD; k++) { a[c][k] = bf16_to_float(float_to_bf16(a[c][k] + b[k])); squares += a[c][k] * a[c][k]; }
                    store8(h + at, a[c]);
                }
                const float r = rsqrtf(block_sum(squares, scratch) / dim + eps);
                if (threadIdx.x == 0) rstd[row] = r;
                #pragma unroll
                for (int c = 0; c < CHUNKS; c++)
                {
                    const int feature = (c * THREADS + threadIdx.x) * PER_THREAD;
                    float w[PER_THREAD];
                    load8(weight + feature, w);
                    #pragma unroll
                    for (int k = 0; k < PER_THREAD; k++) w[k] = a[c][k] * r * w[k];
                    store8(y + base + feature, w);
                }
            }
        }

        // dh_out = dh_in + rstd * (dy * w - hn * mean(dy * w * hn)), hn = h * rstd; the weight's gradient
        // sum(dy * hn) over this block's rows goes to dweight_partial[blockIdx.x, :] (fp32). dh_in may be null.
        template <int CHUNKS>
        __device__ __forceinline__ void add_rms_norm_backward(const unsigned short* __restrict__ dy, const unsigned short* __restrict__ dh_in,
            const unsigned short* __restrict__ h, const unsigned short* __restrict__ weight, const float* __restrict__ rstd,
            unsigned short* __restrict__ dh_out, float* __restrict__ dweight_partial, long long rows, int dim)
        {
            __shared__ float scratch[THREADS / 32];
            float dw[CHUNKS][PER_THREAD], w[CHUNKS][PER_THREAD];
            #pragma unroll
            for (int c = 0; c < CHUNKS; c++)
            {
                #pragma unroll
                for (int k = 0; k < PER_THREAD; k++) dw[c][k] = 0.0f;
                load8(weight + (c * THREADS + threadIdx.x) * PER_THREAD, w[c]);
            }
            for (long long row = blockIdx.x; row < rows; row += gridDim.x)
            {
                const long long base = row * dim;
                const float r = rstd[row];
                float gw[CHUNKS][PER_THREAD], hn[CHUNKS][PER_THREAD];
                float dot = 0.0f;
                #pragma unroll
                for (int c = 0; c < CHUNKS; c++)
                {
                    const long long at = base + ((long long)c * THREADS + threadIdx.x) * PER_THREAD;
                    float g[PER_THREAD];
                    load8(dy + at, g);
                    load8(h + at, hn[c]);
                    #pragma unroll
                    for (int k = 0; k < PER_THREAD; k++)
                    {
                        hn[c][k] *= r;
                        gw[c][k] = g[k] * w[c][k];
                        dot += gw[c][k] * hn[c][k];
                        dw[c][k] += g[k] * hn[c][k];
                    }
                }
                const float mean = block_sum(dot, scratch) / dim;
                #pragma unroll
                for (int c = 0; c < CHUNKS; c++)
                {
                    const long long at = base + ((long long)c * THREADS + threadIdx.x) * PER_THREAD;
                    float d[PER_THREAD];
                    if (dh_in) load8(dh_in + at, d); else for (int k = 0; k < PER_THREAD; k++) d[k] = 0.0f;
                    #pragma unroll
                    for (int k = 0; k < PER_THREAD; k++) d[k] += r * (gw[c][k] - hn[c][k] * mean);
                    store8(dh_out + at, d);
                }
            }
            #pragma unroll
            for (int c = 0; c < CHUNKS; c++)
            {
                #pragma unroll
                for (int k = 0; k < PER_THREAD; k++)
                    dweight_partial[(long long)blockIdx.x * dim + (c * THREADS + threadIdx.x) * PER_THREAD + k] = dw[c][k];
            }
        }

        #define ADD_RMS_NORM_KERNELS(C) \
        extern "C" __global__ void add_rms_norm_forward_##C(const unsigned short* x, const unsigned short* delta, const unsigned short* weight, \
            unsigned short* h, unsigned short* y, float* rstd, long long rows, int dim, float eps) \
        { add_rms_norm_forward<C>(x, delta, weight, h, y, rstd, rows, dim, eps); } \
        extern "C" __global__ void add_rms_norm_backward_##C(const unsigned short* dy, const unsigned short* dh_in, const unsigned short* h, \
            const unsigned short* weight, const float* rstd, unsigned short* dh_out, float* dweight_partial, long long rows, int dim) \
        { add_rms_norm_backward<C>(dy, dh_in, h, weight, rstd, dh_out, dweight_partial, rows, dim); }
        ADD_RMS_NORM_KERNELS(1)
        ADD_RMS_NORM_KERNELS(2)
        ADD_RMS_NORM_KERNELS(3)
        ADD_RMS_NORM_KERNELS(4)
        """;

    private const int MaxChunks = 4;

    private static readonly Lazy<CompiledKernels> Kernels = new(() => CompiledKernels.Compile(Source,
        Enumerable.Range(1, MaxChunks).SelectMany(c => new[] { $"add_rms_norm_forward_{c}", $"add_rms_norm_backward_{c}" }).ToArray()));

    /// <summary>
    /// (h, y) = (x + delta, RMSNorm(x + delta) * weight) over the last axis, differentiable in x, delta and weight.
    /// </summary>
    public static (Tensor Sum, Tensor Normed) Apply(Tensor x, Tensor delta, Tensor weight, double eps)
    {
        if (!x.shape.SequenceEqual(delta.shape) || weight.dim() != 1 || weight.shape[0] != x.shape[^1])
            throw new ArgumentException($"residual add + RMSNorm of x [{string.Join(", ", x.shape)}] and delta [{string.Join(", ", delta.shape)}] " +
                                        $"needs equal shapes and a weight of the last axis, got [{string.Join(", ", weight.shape)}]");
        var outputs = Function.apply(x, delta, weight, eps);
        return (outputs[0], outputs[1]);
    }

    /// <summary>Whether the kernels run for these tensors: CUDA, bf16, contiguous, 16-byte aligned, and a width of 2048, 4096, 6144 or 8192.</summary>
    public static bool KernelApplies(Tensor x, params Tensor[] others)
    {
        var dim = x.shape[^1];
        return dim % (Threads * PerThread) == 0 && dim / (Threads * PerThread) <= MaxChunks
               && others.Prepend(x).All(t => t.device.type == DeviceType.CUDA && t.dtype == ScalarType.BFloat16 && t.is_contiguous()
                                             && (long)TensorMemory.DataPointer(t) % 16 == 0);
    }

    private static (Tensor Sum, Tensor Normed, Tensor Rstd) Forward(Tensor x, Tensor delta, Tensor weight, double eps)
    {
        if (!KernelApplies(x, delta, weight))
        {
            var math = OpMath(x);
            var h = x.Plus(delta);
            var h32 = h.to(math);
            var rstd = h32.square().mean([-1], keepdim: true).PlusScalarInPlace(eps).rsqrt_();
            return (h, h32.mul(rstd).mul_(weight.to(math)).to(x.dtype), rstd);
        }
        var dim = (int)x.shape[^1];
        var rows = x.numel() / dim;
        var (sum, normed) = (empty_like(x), empty_like(x));
        var rstdRows = empty(rows, ScalarType.Float32, x.device);
        var (px, pd, pw, ph, py, pr) = (TensorMemory.DataPointer(x), TensorMemory.DataPointer(delta), TensorMemory.DataPointer(weight),
            TensorMemory.DataPointer(sum), TensorMemory.DataPointer(normed), TensorMemory.DataPointer(rstdRows));
        var epsilon = (float)eps;
        void** args = stackalloc void*[9];
        args[0] = &px; args[1] = &pd; args[2] = &pw; args[3] = &ph; args[4] = &py; args[5] = &pr;
        args[6] = &rows; args[7] = &dim; args[8] = &epsilon;
        var kernels = Kernels.Value;
        kernels.Launch($"add_rms_norm_forward_{dim / (Threads * PerThread)}", Blocks(kernels, rows), Threads, args);
        return (sum, normed, rstdRows);
    }

    private static (Tensor Sum, Tensor Weight) Backward(Tensor dy, Tensor? dhIn, Tensor h, Tensor weight, Tensor rstd)
    {
        if (!KernelApplies(dy, [h, weight, .. dhIn is null ? Array.Empty<Tensor>() : [dhIn]]))
        {
            var math = OpMath(h);
            var r = rstd.reshape([.. h.shape[..^1], 1]); // the kernel's (rows) or the fallback's (..., 1)
            var (g, hn) = (dy.to(math), h.to(math).mul(r));
            var gw = g.mul(weight.to(math));
            var mean = gw.mul(hn).mean([-1], keepdim: true);
            var dh = gw.sub_(hn.mul(mean)).mul_(r);
            if (dhIn is not null) dh.add_(dhIn.to(math));
            var dw = g.mul(hn).reshape(-1, weight.shape[0]).sum(dim: 0);
            return (dh.to(h.dtype), dw.to(weight.dtype));
        }
        var dim = (int)h.shape[^1];
        var rows = h.numel() / dim;
        var kernels = Kernels.Value;
        var blocks = Blocks(kernels, rows);
        var dhOut = empty_like(h);
        var partial = empty([blocks, dim], ScalarType.Float32, h.device);
        var (pg, pdh, ph, pw, pr, po, pp) = (TensorMemory.DataPointer(dy), dhIn is null ? IntPtr.Zero : TensorMemory.DataPointer(dhIn),
            TensorMemory.DataPointer(h), TensorMemory.DataPointer(weight), TensorMemory.DataPointer(rstd), TensorMemory.DataPointer(dhOut), TensorMemory.DataPointer(partial));
        void** args = stackalloc void*[9];
        args[0] = &pg; args[1] = &pdh; args[2] = &ph; args[3] = &pw; args[4] = &pr; args[5] = &po; args[6] = &pp;
        args[7] = &rows; args[8] = &dim;
        kernels.Launch($"add_rms_norm_backward_{dim / (Threads * PerThread)}", blocks, Threads, args);
        return (dhOut, partial.sum(dim: 0).to(weight.dtype));
    }

    // A few blocks per multiprocessor: enough rows in flight to hide latency, and few partial sums of the weight's gradient.
    private static uint Blocks(CompiledKernels kernels, long rows) => (uint)Math.Max(1, Math.Min(rows, kernels.MultiprocessorCount * 4L));

    // fp32 arithmetic for the narrower dtypes, as the kernels do; fp64 stays fp64.
    private static ScalarType OpMath(Tensor t) => t.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    private sealed class Function : autograd.MultiTensorFunction<Function>
    {
        public override string Name => "ResidualRmsNorm";

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (x, delta, weight, eps) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (double)vars[3]);
            var (sum, normed, rstd) = Forward(x.contiguous(), delta.contiguous(), weight.contiguous(), eps);
            ctx.save_for_backward([sum, weight, rstd]);
            // An unread sum's gradient arrives undefined rather than as zeros: TorchSharp would build those zeros
            // from its copy of the outputs, which the caller's dispose scope has already freed.
            ctx.set_materialize_grads(false);
            return [sum, normed];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grads)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            // The sum's gradient is undefined when nothing downstream read it (the final norm's residual).
            var dhIn = grads[0] is { IsInvalid: false } g ? g.contiguous() : null;
            var (dh, dw) = Backward(grads[1].contiguous(), dhIn, saved[0], saved[1], saved[2]);
            BackwardTensors.Release([.. grads.Where(t => t is { IsInvalid: false }), .. saved]);
            // x and delta enter the sum alike, so they share one gradient tensor.
            return BackwardTensors.Return(dh, dh, dw, null);
        }
    }
}
