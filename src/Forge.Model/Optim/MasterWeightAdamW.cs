using System.Runtime.InteropServices;
using Forge.Model.Config;
using Forge.Model.Modeling;
using Forge.Model.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Optim;

/// <summary>
/// AdamW over fp32 master weights for a model computing in bf16 (or fp32), on one device, with
/// everything flat: the trainable parameters are re-pointed to views of one contiguous compute
/// buffer, their gradients to views of one flat gradient buffer (autograd accumulates into them in
/// place), and master weights and moments are single fp32 tensors. A step is then a few
/// whole-buffer passes instead of several kernels per parameter, which matters at 10^9 parameters
/// and ~300 tensors. By default (<see cref="StepKernels"/>) there are two: the clip's norm read
/// straight from the bf16 gradient, and one kernel that updates master and moments from the bf16
/// gradient and writes the bf16 weights (no fp32 gradient buffer). With the levers off there are
/// four: the gradient to fp32, its norm, torch._fused_adamw_ with the clip folded into its
/// grad_scale, the master-to-compute copy. The update rule is <see cref="ShardedAdamW"/>'s over a
/// shard that is the whole vector: the data-parallel engine and this single-device step share it.
/// With fp32 compute the master buffer is the parameter buffer.
/// </summary>
public sealed class MasterWeightAdamW : IDisposable
{
    private readonly Tensor _params;   // compute dtype; parameters are views of it
    private readonly Tensor _grads;    // compute dtype; parameter .grad are views of it
    private readonly Tensor? _grad32;  // fp32 copy of the gradient (aliases _grads in fp32); none with the AdamW kernel
    private readonly bool _computeCopyKernel; // the update reads the compute-dtype gradient and writes _params itself
    private readonly bool _computeDTypeNorm;  // the clip's norm reads _grads, not an fp32 copy
    private readonly ShardedAdamW _adamW; // its master is fp32 (an alias of _params when the compute dtype is fp32)
    private readonly Tensor _gradScale; // the clip as the update's gradient divisor, on the device
    private readonly double _maxGradNorm;

    /// <summary>Optimizer steps taken so far.</summary>
    public long Step => _adamW.Step;
    public long Numel { get; }
    public IReadOnlyList<(string Name, long Offset, long[] Shape)> Layout { get; }

    /// <summary>Which AdamW kernel runs the update (see <see cref="ShardedAdamW.KernelName"/>).</summary>
    public string KernelName => _computeCopyKernel
        ? "one NVRTC kernel: bf16 gradient in, fp32 master and moments, bf16 weights out (clip as grad_scale)"
        : _adamW.KernelName;

    /// <param name="fusedKernel">torch's fused AdamW (default unless FORGE_ATEN_KERNELS=off), or composed ops.</param>
    /// <param name="levers">Which step levers apply (<see cref="StepKernels.Current"/> when null): the clip's norm over the compute-dtype gradient, the one-pass AdamW kernel.</param>
    public MasterWeightAdamW(IEnumerable<(string Name, Parameter Parameter)> trainable, OptimizerConfig config, double maxGradNorm, bool? fusedKernel = null, StepKernels? levers = null)
    {
        var list = trainable.ToList();
        if (list.Count == 0) throw new ArgumentException("no trainable parameters: every parameter is frozen");
        var dtype = list[0].Parameter.dtype;
        var device = list[0].Parameter.device;
        if (list.FirstOrDefault(p => p.Parameter.dtype != dtype) is { Name: not null } odd)
            throw new ArgumentException($"parameter {odd.Name} is {odd.Parameter.dtype} but the others are {dtype}: one compute dtype expected");
        _maxGradNorm = maxGradNorm;
        Numel = list.Sum(p => p.Parameter.numel());
        _params = empty(Numel, dtype, device);
        _grads = zeros(Numel, dtype, device);

        var layout = new List<(string, long, long[])>();
        var offset = 0L;
        using (no_grad())
        {
            foreach (var (name, p) in list)
            {
                var n = p.numel();
                var view = _params.narrow(0, offset, n).view(p.shape);
                view.copy_(p);
                p.set_(view);
                SetGrad(p, _grads.narrow(0, offset, n).view(p.shape));
                layout.Add((name, offset, p.shape));
                offset += n;
            }
        }
        Layout = layout;
        // The optimizer owns (and disposes) its master handle: an alias shares the fp32 parameter storage.
        var master = dtype == ScalarType.Float32 ? _params.alias() : _params.to(ScalarType.Float32);
        _adamW = new ShardedAdamW(master, config, fusedKernel);
        levers ??= StepKernels.Current;
        _computeCopyKernel = levers.AdamWKernel && _adamW.UsesComputeCopyKernel(_grads, _params);
        _computeDTypeNorm = levers.Bf16ClipNorm || _computeCopyKernel;
        _grad32 = _computeCopyKernel ? null : dtype == ScalarType.Float32 ? _grads : empty(Numel, ScalarType.Float32, device);
        _gradScale = ones(1, ScalarType.Float32, device);
    }

    /// <summary>Zeroes the flat gradient (the views stay attached, so backward accumulates into it).</summary>
    public void ZeroGrad() => _grads.zero_();

    /// <summary>
    /// The global L2 norm of the gradient (fp32 accumulation); the clip it implies is kept on the
    /// device for the next <see cref="Apply"/>. Reading the norm is the step's one host sync: the
    /// trainer logs it anyway.
    /// </summary>
    public double ClipGradNorm()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor norm;
        if (_computeDTypeNorm)
        {
            // A bf16 input with an fp32 result is one mixed-precision reduction on CUDA: half the bytes of the copy's norm.
            norm = AtenKernels.NormFp32(_grads);
        }
        else
        {
            if (!ReferenceEquals(_grad32, _grads)) _grad32!.copy_(_grads);
            norm = linalg.vector_norm(_grad32!);
        }
        if (ShardedAdamW.ClipGradScale(norm, _maxGradNorm) is { } scale) _gradScale.copy_(scale);
        return norm.item<float>();
    }

    /// <summary>One AdamW step (decoupled weight decay) at learning rate <paramref name="lr"/>, then the compute copy. Call <see cref="ClipGradNorm"/> first.</summary>
    public void Apply(double lr)
    {
        using var noGrad = no_grad();
        if (_computeCopyKernel)
        {
            _adamW.UpdateWithComputeCopy(_grads, _params, lr, _gradScale);
            return;
        }
        // With the norm read from _grads, the fp32 copy has not been made yet.
        if (_computeDTypeNorm && !ReferenceEquals(_grad32, _grads)) _grad32!.copy_(_grads);
        _adamW.Update(_grad32!, lr, _gradScale);
        if (_params.dtype != ScalarType.Float32) _params.copy_(_adamW.Master);
    }

    public void Dispose()
    {
        _params.Dispose();
        _grads.Dispose();
        if (_grad32 is not null && !ReferenceEquals(_grad32, _grads)) _grad32.Dispose();
        _adamW.Dispose();
        _gradScale.Dispose();
    }

    // TorchSharp 0.107 exposes .grad read-only; LibTorchSharp exports the setter.
    [DllImport("LibTorchSharp")]
    private static extern void THSTensor_set_grad(IntPtr tensor, IntPtr grad);

    private static void SetGrad(Tensor parameter, Tensor grad)
    {
        THSTensor_set_grad(parameter.Handle, grad.Handle);
        torch.CheckForErrors();
    }
}
