using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling;

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)), bias-free.</summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
    public readonly Linear gate_proj;
    public readonly Linear up_proj;
    public readonly Linear down_proj;

    public SwiGluMlp(int dim, int hidden, Device? device = null) : base(nameof(SwiGluMlp))
    {
        gate_proj = nn.Linear(dim, hidden, hasBias: false, device: device);
        up_proj = nn.Linear(dim, hidden, hasBias: false, device: device);
        down_proj = nn.Linear(hidden, dim, hasBias: false, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var levers = StepKernels.Current;
        var gated = levers.SwiGluKernel ? SwiGluGate.Apply(WeightGradGemm.Project(gate_proj, x), WeightGradGemm.Project(up_proj, x))
            : levers.JitFusion && AtenKernels.Enabled ? AtenKernels.SwiGlu(WeightGradGemm.Project(gate_proj, x), WeightGradGemm.Project(up_proj, x))
            : nn.functional.silu(WeightGradGemm.Project(gate_proj, x)).mul(WeightGradGemm.Project(up_proj, x));
        return WeightGradGemm.Project(down_proj, gated).MoveToOuterDisposeScope();
    }
}
