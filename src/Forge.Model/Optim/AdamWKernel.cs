using Forge.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Optim;

/// <summary>
/// <see cref="ShardedAdamW"/>'s update as one CUDA kernel that reads the bf16 gradient and writes
/// the bf16 compute copy of the weights: per element it reads gradient (2 bytes), master weight and
/// both moments (12) and writes those three and the compute copy (14), 28 bytes in all. The composed
/// path moves 44 (the gradient's fp32 copy, torch._fused_adamw_ over it, the master-to-compute copy)
/// and needs a 4-byte-per-parameter fp32 gradient buffer. The arithmetic is torch._fused_adamw_'s, in
/// the same order and in fp32: divide by grad_scale, decay, both moments, bias-corrected step.
/// The bias corrections come from the host (the step count is known there), grad_scale and
/// found_inf are read on the device, so the update queues without any host wait.
/// </summary>
internal static unsafe class AdamWKernel
{
    private const string Name = "adamw_bf16";

    private const string Source = CompiledKernels.Bf16Conversions + """
        __device__ __forceinline__ void adamw_element(float& p, float& m, float& v, float g,
            float lr, float beta1, float beta2, float eps, float decay, float step_size, float bc2_sqrt)
        {
            p -= lr * decay * p;
            m = beta1 * m + (1.0f - beta1) * g;
            v = beta2 * v + (1.0f - beta2) * g * g;
            p -= step_size * m / (sqrtf(v) / bc2_sqrt + eps);
        }

        extern "C" __global__ void adamw_bf16(float* __restrict__ master, float* __restrict__ exp_avg, float* __restrict__ exp_avg_sq,
            const unsigned short* __restrict__ grad, unsigned short* __restrict__ param, long long n,
            float lr, float beta1, float beta2, float eps, float decay, float step_size, float bc2_sqrt,
            const float* __restrict__ grad_scale, const float* __restrict__ found_inf)
        {
            if (*found_inf != 0.0f) return;
            const float scale = *grad_scale;
            const long long stride = (long long)gridDim.x * blockDim.x;
            const long long vectors = n / 4;
            float4* m4 = reinterpret_cast<float4*>(master);
            float4* a4 = reinterpret_cast<float4*>(exp_avg);
            float4* s4 = reinterpret_cast<float4*>(exp_avg_sq);
            const ushort4* g4 = reinterpret_cast<const ushort4*>(grad);
            ushort4* p4 = reinterpret_cast<ushort4*>(param);
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < vectors; i += stride)
            {
                float4 p = m4[i], m = a4[i], v = s4[i];
                ushort4 gh = g4[i];
                adamw_element(p.x, m.x, v.x, bf16_to_float(gh.x) / scale, lr, beta1, beta2, eps, decay, step_size, bc2_sqrt);
                adamw_element(p.y, m.y, v.y, bf16_to_float(gh.y) / scale, lr, beta1, beta2, eps, decay, step_size, bc2_sqrt);
                adamw_element(p.z, m.z, v.z, bf16_to_float(gh.z) / scale, lr, beta1, beta2, eps, decay, step_size, bc2_sqrt);
                adamw_element(p.w, m.w, v.w, bf16_to_float(gh.w) / scale, lr, beta1, beta2, eps, decay, step_size, bc2_sqrt);
                m4[i] = p; a4[i] = m; s4[i] = v;
                p4[i] = make_ushort4(float_to_bf16(p.x), float_to_bf16(p.y), float_to_bf16(p.z), float_to_bf16(p.w));
            }
            for (long long i = vectors * 4 + (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
            {
                float p = master[i], m = exp_avg[i], v = exp_avg_sq[i];
                adamw_element(p, m, v, bf16_to_float(grad[i]) / scale, lr, beta1, beta2, eps, decay, step_size, bc2_sqrt);
                master[i] = p; exp_avg[i] = m; exp_avg_sq[i] = v;
                param[i] = float_to_bf16(p);
            }
        }
        """;

    private static readonly Lazy<CompiledKernels> Kernels = new(() => CompiledKernels.Compile(Source, [Name]));

    /// <summary>Whether the kernel can run for these tensors: CUDA, bf16 gradient and compute copy, 16-byte aligned.</summary>
    public static bool Applies(Tensor master, Tensor gradient, Tensor computeCopy) =>
        master.device.type == DeviceType.CUDA
        && gradient.dtype == ScalarType.BFloat16 && computeCopy.dtype == ScalarType.BFloat16
        && gradient.is_contiguous() && computeCopy.is_contiguous() && master.is_contiguous()
        && new[] { master, gradient, computeCopy }.All(t => DataPointer(t) % 16 == 0);

    public static void Run(Tensor master, Tensor expAvg, Tensor expAvgSq, Tensor gradient, Tensor computeCopy,
        long step, double lr, double beta1, double beta2, double eps, double weightDecay, Tensor gradScale, Tensor foundInf)
    {
        var kernels = Kernels.Value;
        var pm = DataPointer(master);
        var pa = DataPointer(expAvg);
        var ps = DataPointer(expAvgSq);
        var pg = DataPointer(gradient);
        var pp = DataPointer(computeCopy);
        var n = master.numel();
        var (flr, fb1, fb2, feps, fdecay) = ((float)lr, (float)beta1, (float)beta2, (float)eps, (float)weightDecay);
        var stepSize = (float)(lr / (1 - Math.Pow(beta1, step)));
        var bc2Sqrt = (float)Math.Sqrt(1 - Math.Pow(beta2, step));
        var pScale = DataPointer(gradScale);
        var pInf = DataPointer(foundInf);
        void** args = stackalloc void*[15];
        args[0] = &pm; args[1] = &pa; args[2] = &ps; args[3] = &pg; args[4] = &pp; args[5] = &n;
        args[6] = &flr; args[7] = &fb1; args[8] = &fb2; args[9] = &feps; args[10] = &fdecay;
        args[11] = &stepSize; args[12] = &bc2Sqrt; args[13] = &pScale; args[14] = &pInf;
        const uint block = 256;
        // Enough resident blocks to fill every SM several times over; the loop strides across the rest.
        var blocks = (uint)Math.Max(1, Math.Min((n / 4 + block - 1) / block, kernels.MultiprocessorCount * 16L));
        kernels.Launch(Name, blocks, block, args);
    }

    private static long DataPointer(Tensor t) => (long)TensorMemory.DataPointer(t);
}
