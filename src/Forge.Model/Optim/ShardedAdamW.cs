using Forge.Model.Config;
using Forge.Model.Modeling;
using TorchSharp;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Optim;

/// <summary>
/// The project's one AdamW update (decoupled weight decay, bias-corrected moments), over a contiguous
/// fp32 slice of a flat parameter vector: a rank's shard in the data-parallel engine, the whole vector
/// in a world of one (<see cref="MasterWeightAdamW"/>). Two kernels, one rule:
/// <list type="bullet">
/// <item>torch._fused_adamw_ through <see cref="AtenKernels"/> (one pass over weights, gradient and
///   moments), the default;</item>
/// <item>composed TorchSharp ops in the order of torch.optim.AdamW's single-tensor path, when
///   FORGE_ATEN_KERNELS=off (a libtorch without the operator, or a baseline).</item>
/// </list>
/// Clipping rides on the fused kernel's grad_scale: the gradient is divided by a device scalar inside
/// the update, so the global norm is the clip's only pass and nothing waits for the host. Weight decay
/// applies to every element: padding stays zero because its gradient, moments and value are all zero.
/// </summary>
public sealed class ShardedAdamW : IDisposable
{
    private readonly double _beta1;
    private readonly double _beta2;
    private readonly double _eps;
    private readonly double _weightDecay;
    private readonly Tensor _deviceStep;  // the fused kernel reads the bias-correction step from the device
    private readonly Tensor _unitScale;   // grad_scale when the caller does not clip
    private readonly Tensor _noInf;       // found_inf when the caller does not guard against divergence

    /// <summary>Takes ownership of <paramref name="master"/> (fp32, 1-D) as the shard's master weights; moments start at zero.</summary>
    /// <param name="fusedKernel">torch's fused AdamW (default unless FORGE_ATEN_KERNELS=off), or composed ops.</param>
    public ShardedAdamW(Tensor master, OptimizerConfig config, bool? fusedKernel = null)
    {
        if (master.dtype != ScalarType.Float32 || master.dim() != 1)
            throw new ArgumentException($"master weights must be a 1-D float32 tensor, got {master.dtype} [{string.Join(", ", master.shape)}]");
        if (config.Name != OptimizerConfig.AdamW)
            throw new ArgumentException($"optimizer.name = '{config.Name}': only \"{OptimizerConfig.AdamW}\" is implemented");
        if (config.Betas.Count != 2 || config.Betas.Any(b => b is < 0 or >= 1))
            throw new ArgumentException($"optimizer.betas = [{string.Join(", ", config.Betas)}]: expected two values in [0, 1)");
        if (config.Eps <= 0) throw new ArgumentException($"optimizer.eps = {config.Eps}: expected a positive number");
        if (config.WeightDecay < 0) throw new ArgumentException($"optimizer.weight_decay = {config.WeightDecay}: expected 0 or more");
        (_beta1, _beta2, _eps, _weightDecay) = (config.Betas[0], config.Betas[1], config.Eps, config.WeightDecay);
        FusedKernel = fusedKernel ?? AtenKernels.Enabled;
        Master = master;
        ExpAvg = zeros_like(master);
        ExpAvgSq = zeros_like(master);
        _deviceStep = zeros(1, ScalarType.Float32, master.device);
        _unitScale = ones(1, ScalarType.Float32, master.device);
        _noInf = zeros(1, ScalarType.Float32, master.device);
    }

    public Tensor Master { get; }
    public Tensor ExpAvg { get; }
    public Tensor ExpAvgSq { get; }

    /// <summary>True when updates run torch._fused_adamw_, false for composed ops.</summary>
    public bool FusedKernel { get; }

    /// <summary>Which kernel runs the update, for benchmark and log output.</summary>
    public string KernelName => FusedKernel ? "torch._fused_adamw_ (TorchScript, clip as grad_scale)" : "composed TorchSharp ops (FORGE_ATEN_KERNELS=off)";

    /// <summary>Optimizer steps taken so far (the bias-correction exponent).</summary>
    public long Step { get; private set; }

    public long Length => Master.shape[0];

    /// <summary>
    /// The grad_scale that makes <see cref="Update"/> apply torch.nn.utils.clip_grad_norm_'s rule
    /// (gradient times min(1, max_norm / (norm + 1e-6))) as a divisor: max(1, (norm + 1e-6) / max_norm),
    /// computed on the device from the global norm so no host read is needed. Null when clipping is off.
    /// </summary>
    public static Tensor? ClipGradScale(Tensor globalNorm, double maxNorm) =>
        maxNorm > 0 ? globalNorm.PlusScalar(1e-6).OverInPlace(maxNorm).AtLeastInPlace(1.0).reshape(1) : null;

    /// <summary>
    /// One AdamW step with the shard's reduced fp32 <paramref name="gradient"/> divided by
    /// <paramref name="gradScale"/> (a one-element fp32 tensor on the shard's device, e.g. from
    /// <see cref="ClipGradScale"/>; null for none). The gradient buffer may be overwritten with the scaled values.
    /// <paramref name="segments"/> limits the update to the parts of the shard that train in the current
    /// freeze stage, each with its own bias-correction step; the rest (weights and moments) is left
    /// untouched. Null updates the whole shard at step <see cref="Step"/>.
    /// </summary>
    /// <paramref name="foundInf"/>, a one-element fp32 device tensor, skips the update when it holds a non-zero
    /// value (torch's found_inf: read on the device, no host wait); the caller then calls <see cref="Unstep"/>.
    public void Update(Tensor gradient, double lr, Tensor? gradScale = null, IReadOnlyList<OptimizerSegment>? segments = null, Tensor? foundInf = null)
    {
        if (gradient.dtype != ScalarType.Float32 || gradient.numel() != Length)
            throw new ArgumentException($"gradient must be {Length} float32 elements, got {gradient.numel()} {gradient.dtype}");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Step++;
        if (segments is null)
        {
            UpdateRuns([Master], [gradient], [ExpAvg], [ExpAvgSq], [Step], lr, gradScale, foundInf);
            return;
        }
        foreach (var segment in segments)
            if (segment.Offset < 0 || segment.Length < 1 || segment.Offset + segment.Length > Length || segment.Step < 1)
                throw new ArgumentException($"optimizer segment {segment} does not fit a shard of {Length} elements");
        if (segments.Count == 0) return;   // nothing of this shard trains in this stage
        Tensor[] Views(Tensor t) => segments.Select(g => t.narrow(0, g.Offset, g.Length)).ToArray();
        UpdateRuns(Views(Master), Views(gradient), Views(ExpAvg), Views(ExpAvgSq), segments.Select(g => g.Step).ToArray(), lr, gradScale, foundInf);
    }

    /// <summary>
    /// <see cref="Update"/> of the whole shard from a gradient in the compute dtype, also writing the
    /// updated weights into <paramref name="computeCopy"/> (the compute-dtype parameters). On CUDA with
    /// bf16 compute this is <see cref="AdamWKernel"/>, one pass and no fp32 gradient; elsewhere (CPU,
    /// fp32 compute, FORGE_ATEN_KERNELS=off) it is the gradient's fp32 copy, <see cref="Update"/> and
    /// the copy back, which compute the same values.
    /// </summary>
    public void UpdateWithComputeCopy(Tensor computeGradient, Tensor computeCopy, double lr, Tensor? gradScale = null, Tensor? foundInf = null)
    {
        if (computeGradient.numel() != Length || computeCopy.numel() != Length)
            throw new ArgumentException($"gradient and compute copy must have {Length} elements, got {computeGradient.numel()} and {computeCopy.numel()}");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        if (UsesComputeCopyKernel(computeGradient, computeCopy))
        {
            Step++;
            AdamWKernel.Run(Master, ExpAvg, ExpAvgSq, computeGradient, computeCopy, Step, lr, _beta1, _beta2, _eps, _weightDecay,
                gradScale ?? _unitScale, foundInf ?? _noInf);
            return;
        }
        Update(computeGradient.to(ScalarType.Float32), lr, gradScale, null, foundInf);
        computeCopy.copy_(Master);
    }

    /// <summary>Whether <see cref="UpdateWithComputeCopy"/> runs the one-pass CUDA kernel for these tensors.</summary>
    public bool UsesComputeCopyKernel(Tensor computeGradient, Tensor computeCopy) =>
        FusedKernel && AdamWKernel.Applies(Master, computeGradient, computeCopy);

    /// <summary>
    /// Takes back the step count of an update that <c>foundInf</c> skipped, as torch.optim does for a step
    /// skipped on a non-finite gradient: the next applied update uses the same bias correction.
    /// </summary>
    public void Unstep()
    {
        if (Step == 0) throw new InvalidOperationException("no optimizer step to take back");
        Step--;
    }

    private void UpdateRuns(Tensor[] masters, Tensor[] gradients, Tensor[] expAvgs, Tensor[] expAvgSqs, long[] steps, double lr, Tensor? gradScale, Tensor? foundInf)
    {
        // The composed fallback has no device-side skip: it reads the flag (it is not the fast path).
        if (!FusedKernel && foundInf is not null && foundInf.item<float>() != 0) return;
        if (FusedKernel)
        {
            // The device steps are fills, not host reads: the kernel reads the bias-correction step without a sync.
            var deviceSteps = new Tensor[steps.Length];
            for (var i = 0; i < steps.Length; i++)
                deviceSteps[i] = i == 0 ? _deviceStep.FillInPlace(steps[0]) : empty(1, ScalarType.Float32, _deviceStep.device).FillInPlace(steps[i]);
            AtenKernels.FusedAdamW(masters, gradients, expAvgs, expAvgSqs, deviceSteps,
                lr, _beta1, _beta2, _weightDecay, _eps, gradScale ?? _unitScale, foundInf ?? _noInf);
            return;
        }
        for (var i = 0; i < masters.Length; i++)
        {
            var (master, gradient, expAvg, expAvgSq) = (masters[i], gradients[i], expAvgs[i], expAvgSqs[i]);
            // The fallback pays the clip as a pass of its own; the fused kernel folds it into the update.
            if (gradScale is not null) gradient.div_(gradScale);
            var biasCorrection1 = 1 - Math.Pow(_beta1, steps[i]);
            var biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(_beta2, steps[i]));
            master.TimesInPlace(1 - lr * _weightDecay);
            expAvg.LerpInPlace(gradient, 1 - _beta1);
            expAvgSq.TimesInPlace(_beta2).AddProductInPlace(gradient, gradient, 1 - _beta2);
            var denominator = expAvgSq.sqrt().OverInPlace(biasCorrection2Sqrt).PlusScalarInPlace(_eps);
            master.AddQuotientInPlace(expAvg, denominator, -lr / biasCorrection1);
        }
    }

    /// <summary>Copies the shard to the host (the checkpoint payload); <paramref name="start"/> is its place in the flat layout.</summary>
    public OptimizerShard Snapshot(long start) =>
        new(start, Length, ToArray(Master), ToArray(ExpAvg), ToArray(ExpAvgSq), Step);

    /// <summary>Replaces master weights, moments and step count with a saved shard of the same length.</summary>
    public void Load(OptimizerShard shard)
    {
        if (shard.Length != Length || shard.Master.Length != Length || shard.ExpAvg.Length != Length || shard.ExpAvgSq.Length != Length)
            throw new ArgumentException($"optimizer shard at {shard.Start} has length {shard.Length} (arrays {shard.Master.Length}/{shard.ExpAvg.Length}/{shard.ExpAvgSq.Length}); this rank's shard has {Length}");
        if (shard.Step < 0) throw new ArgumentException($"optimizer shard step {shard.Step} is negative");
        using var _ = no_grad();
        // from_array shares the managed arrays (no intermediate host tensor), so each copy_ is one pass.
        using (var master = from_array(shard.Master)) Master.copy_(master);
        using (var expAvg = from_array(shard.ExpAvg)) ExpAvg.copy_(expAvg);
        using (var expAvgSq = from_array(shard.ExpAvgSq)) ExpAvgSq.copy_(expAvgSq);
        Step = shard.Step;
    }

    public void Dispose()
    {
        Master.Dispose();
        ExpAvg.Dispose();
        ExpAvgSq.Dispose();
        _deviceStep.Dispose();
        _unitScale.Dispose();
        _noInf.Dispose();
    }

    private static float[] ToArray(Tensor t)
    {
        using var host = t.detach().cpu();
        return host.data<float>().ToArray();
    }
}

/// <summary>
/// A run of a shard to update: <see cref="Offset"/> and <see cref="Length"/> in shard elements, and
/// the AdamW bias-correction step this update uses for it (1 for its first update).
/// </summary>
public readonly record struct OptimizerSegment(long Offset, long Length, long Step);
