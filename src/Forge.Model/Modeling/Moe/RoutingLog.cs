using static TorchSharp.torch;

namespace Forge.Model.Modeling.Moe;

/// <summary>
/// What the MoE layers of one forward pass report, in layer order: the balance and z-losses (still
/// in the autograd graph, so the training loss can include them) and, per layer, the token-slots
/// routed to each expert and those it received after capacity dropping. The log owns these tensors
/// (they outlive the layers' dispose scopes); dispose it after the backward pass.
/// </summary>
public sealed class RoutingLog : IDisposable
{
    private readonly List<Tensor> _aux = [];
    private readonly List<Tensor> _z = [];
    private readonly List<Tensor> _routed = [];
    private readonly List<Tensor> _received = [];

    /// <summary>MoE layers that have reported.</summary>
    public int Layers => _aux.Count;

    public void Record(Tensor auxLoss, Tensor zLoss, Tensor routed, Tensor received)
    {
        _aux.Add(auxLoss.DetachFromDisposeScope());
        _z.Add(zLoss.DetachFromDisposeScope());
        _routed.Add(routed.DetachFromDisposeScope());
        _received.Add(received.DetachFromDisposeScope());
    }

    /// <summary>Sum of the layers' balance losses (KempnerForge's get_moe_aux_loss), fp32 scalar.</summary>
    public Tensor AuxLoss() => Sum(_aux);

    /// <summary>Sum of the layers' router z-losses (get_moe_router_z_loss), fp32 scalar.</summary>
    public Tensor ZLoss() => Sum(_z);

    /// <summary>(layers, experts) token-slots each expert was routed, before capacity dropping.</summary>
    public Tensor Routed() => Stacked(_routed);

    /// <summary>(layers, experts) tokens each expert received and computed, after capacity dropping.</summary>
    public Tensor Received() => Stacked(_received);

    private static Tensor Stacked(List<Tensor> counts)
    {
        using var scope = NewDisposeScope();
        return stack(counts.Select(c => c.to(ScalarType.Float32)).ToArray()).MoveToOuterDisposeScope();
    }

    private static Tensor Sum(List<Tensor> terms)
    {
        if (terms.Count == 0) throw new InvalidOperationException("no MoE layer has reported to this routing log");
        using var scope = NewDisposeScope();
        return stack(terms).to(ScalarType.Float32).sum().MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        foreach (var t in _aux.Concat(_z).Concat(_routed).Concat(_received)) t.Dispose();
        _aux.Clear();
        _z.Clear();
        _routed.Clear();
        _received.Clear();
    }
}
