using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>
/// ATen operators TorchSharp 0.107 has no binding for, reached through a TorchScript compilation
/// unit: the fused RMSNorm (one kernel forward and backward on CUDA instead of eight) and the
/// fused multi-tensor AdamW (one pass over master weights, gradient and moments instead of about
/// ten). Autograd flows through TorchScript calls as through any op.
/// Tensor lists are built on the C# side and passed in: lists constructed inside a TorchScript
/// function and mutated by a foreach op were found to lose the mutation.
/// </summary>
public static class AtenKernels
{
    /// <summary>
    /// FORGE_ATEN_KERNELS=off makes the model and optimizer use composed TorchSharp ops instead:
    /// a fallback for a libtorch whose TorchScript lacks these operators, and a baseline to measure against.
    /// </summary>
    public static bool Enabled { get; } =
        !string.Equals(Environment.GetEnvironmentVariable("FORGE_ATEN_KERNELS"), "off", StringComparison.OrdinalIgnoreCase);

    private const string Source = """
        def rms_norm(x: Tensor, weight: Tensor, eps: float):
            return torch.rms_norm(x, [x.size(-1)], weight, eps)

        def rope(x: Tensor, cos: Tensor, signed_sin: Tensor):
            half = x.size(-1) // 2
            return x * cos + torch.cat([x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1) * signed_sin

        def swiglu(gate: Tensor, up: Tensor):
            return torch.silu(gate) * up

        def sdpa_gqa(q: Tensor, k: Tensor, v: Tensor, causal: bool):
            return torch.scaled_dot_product_attention(q, k, v, None, 0.0, causal, scale=None, enable_gqa=True)

        def norm_fp32(x: Tensor):
            return torch.linalg_vector_norm(x, 2.0, None, False, dtype=6)  # 6: ScalarType Float

        def fused_adamw(params: List[Tensor], grads: List[Tensor], exp_avgs: List[Tensor], exp_avg_sqs: List[Tensor], steps: List[Tensor], lr: float, beta1: float, beta2: float, weight_decay: float, eps: float, grad_scale: Tensor, found_inf: Tensor):
            torch._fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay, eps=eps, amsgrad=False, maximize=False, grad_scale=grad_scale, found_inf=found_inf)
        """;

    // Compiled once per process; a CompilationUnit's functions may run on several threads.
    private static readonly Lazy<jit.CompilationUnit> Unit = new(() => jit.compile(Source + "\n")); // the TorchScript parser needs the final newline

    /// <summary>x * rsqrt(mean(x^2) + eps) * weight over the last axis, statistics in fp32.</summary>
    public static Tensor RmsNorm(Tensor x, Tensor weight, double eps) =>
        (Tensor)Unit.Value.invoke("rms_norm", x, weight, eps);

    /// <summary>
    /// RoPE, x * cos + [x2, x1] * signed_sin over the last axis (see <see cref="RotaryEmbedding"/>), as one
    /// TorchScript function: on CUDA libtorch's fuser can make its forward and backward one kernel each.
    /// </summary>
    public static Tensor Rope(Tensor x, Tensor cos, Tensor signedSin) =>
        (Tensor)Unit.Value.invoke("rope", x, cos, signedSin);

    /// <summary>silu(gate) * up as one TorchScript function (fusable on CUDA, like <see cref="Rope"/>).</summary>
    public static Tensor SwiGlu(Tensor gate, Tensor up) =>
        (Tensor)Unit.Value.invoke("swiglu", gate, up);

    /// <summary>
    /// Scaled dot-product attention of (B, H, T, d) queries on (B, Hkv, S, d) keys and values with
    /// H a multiple of Hkv (query head h reads kv head h / (H / Hkv)), without repeating the kv heads.
    /// </summary>
    public static Tensor SdpaGroupedQuery(Tensor q, Tensor k, Tensor v, bool causal) =>
        (Tensor)Unit.Value.invoke("sdpa_gqa", q, k, v, causal);

    /// <summary>
    /// The L2 norm of all of <paramref name="x"/> accumulated and returned in fp32. For a bf16 input on
    /// CUDA this is one mixed-precision reduction that reads the bf16 values (no fp32 copy is made).
    /// </summary>
    public static Tensor NormFp32(Tensor x) =>
        Enabled ? (Tensor)Unit.Value.invoke("norm_fp32", x) : linalg.vector_norm(x.to(ScalarType.Float32));

    /// <summary>
    /// One in-place AdamW step (decoupled weight decay, bias correction from <paramref name="step"/>,
    /// which the caller increments first) on same-dtype tensors. Gradients are divided by
    /// <paramref name="gradScale"/> inside the kernel, which is how clipping is applied for free.
    /// </summary>
    public static void FusedAdamW(Tensor[] param, Tensor[] grad, Tensor[] expAvg, Tensor[] expAvgSq, Tensor[] step,
        double lr, double beta1, double beta2, double weightDecay, double eps, Tensor gradScale, Tensor foundInf) =>
        Unit.Value.invoke("fused_adamw", param, grad, expAvg, expAvgSq, step,
            lr, beta1, beta2, weightDecay, eps, gradScale, foundInf);
}
