using Forge.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>
/// Cross-entropy of bf16 logit rows and their gradient in one NVRTC kernel, for
/// <see cref="CaptionLoss.SumFused"/>. One block per row reads the row once for its maximum and sum
/// of exponentials (an online softmax, in fp32), then again from cache to overwrite the logits with
/// d(loss)/d(logits) = softmax - one_hot(target), rounded once to bf16, and writes the row's loss
/// logsumexp - logit[target] in fp32; an ignored row gets loss 0 and gradient 0. The composed
/// chunked loss makes about a dozen fp32 passes over each chunk's logits for the same values.
/// A target outside the vocabulary (other than the ignore index) gets a NaN loss rather than a read
/// out of bounds, so the step is reported diverged instead of silently wrong.
/// </summary>
public static unsafe class CrossEntropyKernel
{
    private const string Name = "cross_entropy_rows";
    private const uint Block = 512;

    private const string Source = CompiledKernels.Bf16Conversions + """
        // NVRTC has no math.h, so no INFINITY macro: the bit pattern of -inf.
        #define NEG_INF __uint_as_float(0xff800000u)

        __device__ __forceinline__ void combine(float& m, float& s, float m2, float s2)
        {
            if (m2 == NEG_INF) return;
            if (m == NEG_INF) { m = m2; s = s2; return; }
            const float top = fmaxf(m, m2);
            s = s * expf(m - top) + s2 * expf(m2 - top);
            m = top;
        }

        extern "C" __global__ void cross_entropy_rows(unsigned short* __restrict__ logits, const long long* __restrict__ targets,
            float* __restrict__ loss, int vocab, long long ignore_index)
        {
            __shared__ float max_part[32], sum_part[32];
            __shared__ float target_logit;
            unsigned short* row = logits + (long long)blockIdx.x * vocab;
            const long long target = targets[blockIdx.x];
            const bool valid = target != ignore_index;
            const bool in_range = target >= 0 && target < vocab;
            if (threadIdx.x == 0) target_logit = valid && in_range ? bf16_to_float(row[target]) : 0.0f;

            float m = NEG_INF, s = 0.0f;
            for (int j = threadIdx.x; j < vocab; j += blockDim.x)
            {
                const float x = bf16_to_float(row[j]);
                if (x > m) { s = s * expf(m - x) + 1.0f; m = x; }
                else s += expf(x - m);
            }
            for (int offset = 16; offset > 0; offset >>= 1)
                combine(m, s, __shfl_xor_sync(0xffffffffu, m, offset), __shfl_xor_sync(0xffffffffu, s, offset));
            const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
            if (lane == 0) { max_part[warp] = m; sum_part[warp] = s; }
            __syncthreads();
            const int warps = (blockDim.x + 31) / 32;
            m = lane < warps ? max_part[lane] : NEG_INF;
            s = lane < warps ? sum_part[lane] : 0.0f;
            for (int offset = 16; offset > 0; offset >>= 1)
                combine(m, s, __shfl_xor_sync(0xffffffffu, m, offset), __shfl_xor_sync(0xffffffffu, s, offset));
            const float lse = m + logf(s);
            if (threadIdx.x == 0)
                loss[blockIdx.x] = !valid ? 0.0f : in_range ? lse - target_logit : __int_as_float(0x7fc00000);

            for (int j = threadIdx.x; j < vocab; j += blockDim.x)
            {
                const float p = valid ? expf(bf16_to_float(row[j]) - lse) - (j == target ? 1.0f : 0.0f) : 0.0f;
                row[j] = float_to_bf16(p);
            }
        }
        """;

    private static readonly Lazy<CompiledKernels> Kernels = new(() => CompiledKernels.Compile(Source, [Name]));

    /// <summary>Whether the kernel runs for these logits: CUDA, bf16, contiguous rows.</summary>
    public static bool Applies(Tensor logits) =>
        logits.device.type == DeviceType.CUDA && logits.dtype == ScalarType.BFloat16 && logits.dim() == 2 && logits.is_contiguous();

    /// <summary>
    /// The fp32 loss of each row of <paramref name="logits"/> (n, vocab) against <paramref name="targets"/> (n, int64;
    /// <paramref name="ignoreIndex"/> = no target), overwriting the logits with the loss sum's gradient.
    /// </summary>
    public static Tensor LossAndGradientInPlace(Tensor logits, Tensor targets, long ignoreIndex)
    {
        if (!Applies(logits)) throw new ArgumentException($"the cross-entropy kernel takes contiguous 2-D bf16 CUDA logits, got {logits.dtype} [{string.Join(", ", logits.shape)}] on {logits.device}");
        var rows = logits.shape[0];
        var t = targets.to(ScalarType.Int64).contiguous();
        if (t.numel() != rows) throw new ArgumentException($"{t.numel()} targets for {rows} logit rows");
        var loss = empty(rows, ScalarType.Float32, logits.device);
        var (pl, pt, po) = (TensorMemory.DataPointer(logits), TensorMemory.DataPointer(t), TensorMemory.DataPointer(loss));
        var vocab = (int)logits.shape[1];
        void** args = stackalloc void*[5];
        args[0] = &pl; args[1] = &pt; args[2] = &po; args[3] = &vocab; args[4] = &ignoreIndex;
        if (rows > 0) Kernels.Value.Launch(Name, (uint)rows, Block, args);
        return loss;
    }
}
