namespace Forge.Model.Runtime;

/// <summary>
/// Which of the training step's speed levers are on. Each replaces a composed path by one that
/// computes the same values (the tests hold each to its reference) with fewer passes over memory:
/// <list type="bullet">
/// <item><see cref="ChunkedLoss"/>: the caption loss from the hidden states in row chunks, never
///   holding the full fp32 logits (<see cref="Modeling.CaptionLoss.SumChunked"/>);</item>
/// <item><see cref="Bf16ClipNorm"/>: the clip's global norm read straight from the compute-dtype
///   gradient, accumulated in fp32, instead of from an fp32 copy made first;</item>
/// <item><see cref="AdamWKernel"/>: one NVRTC kernel that reads the compute-dtype gradient and
///   writes master weights, moments and the compute copy in a single pass, so no fp32 gradient
///   buffer exists (CUDA and bf16 compute only; elsewhere the composed path runs).</item>
/// <item><see cref="SdpaGqa"/>: grouped-query attention handed to SDPA with enable_gqa, so the
///   key/value heads are not repeated into copies first (through TorchScript; TorchSharp's SDPA
///   binding has no such flag);</item>
/// <item><see cref="JitFusion"/>: RoPE and the SwiGLU gate as TorchScript functions, which
///   libtorch's fuser may compile into one kernel each way on CUDA (on a CPU they run op by op).</item>
/// <item><see cref="LossKernel"/>: the loss from the hidden states as <see cref="ChunkedLoss"/> does, but the
///   logits scored and turned into their gradient by one NVRTC kernel (<see cref="Modeling.CaptionLoss.SumFused"/>);
///   on a CPU it is the chunked loss.</item>
/// <item><see cref="SwiGluKernel"/>: the SwiGLU gate as an autograd function with a one-pass NVRTC kernel each
///   way (<see cref="Modeling.SwiGluGate"/>); it saves gate and up only.</item>
/// <item><see cref="RopeKernel"/>: RoPE as an autograd function with a one-pass NVRTC kernel each way
///   (<see cref="Modeling.RotaryKernel"/>), without the composed path's copies.</item>
/// <item><see cref="WeightGradGemm"/>: the attention and MLP projections' weight gradients added into the bound
///   flat gradient by the GEMM itself (<see cref="Modeling.WeightGradGemm"/>), not computed apart and added after.</item>
/// <item><see cref="AddNormKernel"/>: each residual add and the RMSNorm after it as one autograd function with a
///   one-pass NVRTC kernel each way (<see cref="Modeling.ResidualRmsNorm"/>); the decoder carries the stream as
///   (residual, pending addend) so every add meets its norm.</item>
/// </list>
/// The kernel levers run the same formulas as torch ops where the kernels do not apply (CPU, fp32),
/// so jit-fusion yields to them: with rope-kernel or swiglu-kernel on, that op ignores jit-fusion.
/// All but jit-fusion are on by default (<see cref="Default"/>): on an H200 at ca-1b jit-fusion
/// gained under 1 ms a step and held 0.75 GiB more at the peak (TorchScript's autodiff saves the
/// fused functions' inputs), which put the step over KempnerForge's fp32 peak. FORGE_STEP_KERNELS
/// chooses others: "all", "none", or a comma list of the levers to use (e.g.
/// "chunked-loss,adamw-kernel"). `forge bench model --levers` measures each one alone.
/// </summary>
public sealed record StepKernels(bool ChunkedLoss, bool Bf16ClipNorm, bool AdamWKernel, bool SdpaGqa, bool JitFusion,
    bool LossKernel, bool SwiGluKernel, bool RopeKernel, bool WeightGradGemm, bool AddNormKernel)
{
    public const string ChunkedLossName = "chunked-loss";
    public const string Bf16ClipNormName = "bf16-clip-norm";
    public const string AdamWKernelName = "adamw-kernel";
    public const string SdpaGqaName = "sdpa-gqa";
    public const string JitFusionName = "jit-fusion";
    public const string LossKernelName = "loss-kernel";
    public const string SwiGluKernelName = "swiglu-kernel";
    public const string RopeKernelName = "rope-kernel";
    public const string WeightGradGemmName = "weight-grad-gemm";
    public const string AddNormKernelName = "add-norm-kernel";

    public static readonly StepKernels All = new(true, true, true, true, true, true, true, true, true, true);
    public static readonly StepKernels None = new(false, false, false, false, false, false, false, false, false, false);
    public static readonly StepKernels Default = All with { JitFusion = false };

    /// <summary>The levers by name, in the order benchmarks print them.</summary>
    public static IReadOnlyList<string> Names { get; } = [ChunkedLossName, Bf16ClipNormName, AdamWKernelName, SdpaGqaName, JitFusionName,
        LossKernelName, SwiGluKernelName, RopeKernelName, WeightGradGemmName, AddNormKernelName];

    /// <summary>
    /// The choice the model and optimizer read when they are built or run. Set from FORGE_STEP_KERNELS
    /// at start-up; the model benchmark replaces it between the configurations it measures.
    /// </summary>
    public static StepKernels Current { get; set; } = Parse(Environment.GetEnvironmentVariable("FORGE_STEP_KERNELS"), "FORGE_STEP_KERNELS");

    /// <summary>Only lever <paramref name="name"/> on.</summary>
    public static StepKernels Only(string name) => Parse(name, "lever");

    /// <summary>Empty for <see cref="Default"/>, "all", "none", or a comma list of lever names; <paramref name="source"/> names the setting in errors.</summary>
    public static StepKernels Parse(string? value, string source)
    {
        if (string.IsNullOrWhiteSpace(value)) return Default;
        if (value.Trim() == "all") return All;
        if (value.Trim() == "none") return None;
        var names = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.FirstOrDefault(n => !Names.Contains(n)) is { } unknown)
            throw new ArgumentException($"{source} = \"{value}\": unknown lever '{unknown}'; expected \"all\", \"none\" or a comma list of {string.Join(", ", Names)}");
        return new StepKernels(names.Contains(ChunkedLossName), names.Contains(Bf16ClipNormName), names.Contains(AdamWKernelName),
            names.Contains(SdpaGqaName), names.Contains(JitFusionName), names.Contains(LossKernelName), names.Contains(SwiGluKernelName),
            names.Contains(RopeKernelName), names.Contains(WeightGradGemmName), names.Contains(AddNormKernelName));
    }

    /// <summary>The levers that are on, comma-separated ("none" when none is).</summary>
    public override string ToString()
    {
        var on = new[] { (ChunkedLoss, ChunkedLossName), (Bf16ClipNorm, Bf16ClipNormName), (AdamWKernel, AdamWKernelName), (SdpaGqa, SdpaGqaName), (JitFusion, JitFusionName),
                (LossKernel, LossKernelName), (SwiGluKernel, SwiGluKernelName), (RopeKernel, RopeKernelName),
                (WeightGradGemm, WeightGradGemmName), (AddNormKernel, AddNormKernelName) }
            .Where(l => l.Item1).Select(l => l.Item2).ToList();
        return on.Count == 0 ? "none" : string.Join(",", on);
    }
}
