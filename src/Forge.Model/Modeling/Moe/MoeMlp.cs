using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling.Moe;

/// <summary>
/// KempnerForge's MoEMLP: a router, `num_experts` SwiGLU experts and, when moe_shared_experts &gt; 0,
/// one shared expert every token passes through. State-dict names are KempnerForge's:
/// router.gate.weight, experts.{e}.{gate,up,down}_proj.weight, shared_expert.*. Each expert runs
/// once on the tokens that chose it (a gather, the SwiGLU, a weighted scatter-add), the order of
/// KempnerForge's fp32 path, so logits match it to rounding.
/// </summary>
public sealed class MoeMlp : nn.Module
{
    public readonly SoftmaxTopKRouter router;
    public readonly ModuleList<SwiGluMlp> experts;
    public readonly SwiGluMlp? shared_expert;

    private static readonly Scalar Zero = 0.ToScalar();

    private readonly double _capacityFactor;

    public MoeMlp(int dim, int hidden, int experts, int topK, int sharedExperts, double capacityFactor, Device? device = null)
        : base(nameof(MoeMlp))
    {
        if (experts < 1) throw new ArgumentException($"model.num_experts = {experts}: an MoE MLP needs at least one expert");
        router = new SoftmaxTopKRouter(dim, experts, topK, device);
        this.experts = new ModuleList<SwiGluMlp>(Enumerable.Range(0, experts).Select(_ => new SwiGluMlp(dim, hidden, device)).ToArray());
        shared_expert = sharedExperts > 0 ? new SwiGluMlp(dim, hidden, device) : null;
        _capacityFactor = capacityFactor;
        RegisterComponents();
    }

    /// <param name="x">(B, L, dim); every position is a token to route, padding included, as in KempnerForge.</param>
    /// <param name="routing">Receives this layer's losses and expert counts; null when nobody needs them (inference).</param>
    public Tensor forward(Tensor x, RoutingLog? routing)
    {
        using var scope = NewDisposeScope();
        var dim = x.shape[^1];
        var flat = x.reshape(-1, dim);
        var (weights, indices, aux, z, routed) = router.Route(flat);
        if (_capacityFactor > 0) weights = ExpertCapacity.Apply(weights, indices, router.Experts, _capacityFactor);

        var output = zeros_like(flat);
        var received = new long[router.Experts];
        for (var e = 0; e < router.Experts; e++)
        {
            // top-k never picks an expert twice for a token, so this is the token's weight for e (0 if dropped or not chosen).
            using var expert = e.ToScalar();
            var weight = weights.mul(indices.eq(expert).to(weights.dtype)).sum(-1);
            var rows = weight.gt(Zero).nonzero().squeeze(1);
            received[e] = rows.shape[0];
            if (received[e] == 0) continue;
            var computed = experts[e].forward(flat.index_select(0, rows)).mul(weight.index_select(0, rows).unsqueeze(1));
            output = output.index_add(0, rows, computed, RootedScalars.One);
        }
        if (shared_expert is not null) output = output.Plus(shared_expert.forward(flat));

        routing?.Record(aux, z, routed, tensor(received, device: x.device));
        return output.view(x.shape).MoveToOuterDisposeScope();
    }
}
