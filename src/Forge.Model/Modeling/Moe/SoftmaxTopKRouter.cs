using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling.Moe;

/// <summary>
/// KempnerForge's "softmax_topk" router (Mixtral style): softmax over the experts, the top-k per
/// token, their weights renormalised to sum to one. Alongside the routing it gives the
/// Switch-Transformer balance loss, experts * sum_e f_e * P_e (f_e: share of the token-slots sent to
/// e, P_e: e's mean probability), and the ST-MoE z-loss, mean over tokens of logsumexp(logits)^2.
/// </summary>
public sealed class SoftmaxTopKRouter : nn.Module
{
    public const string Name = "softmax_topk";

    public readonly Linear gate;

    public int Experts { get; }
    public int TopK { get; }

    public SoftmaxTopKRouter(int dim, int experts, int topK, Device? device = null) : base(nameof(SoftmaxTopKRouter))
    {
        if (topK < 1 || topK > experts) throw new ArgumentException($"model.moe_top_k = {topK}: expected 1 to model.num_experts ({experts})");
        Experts = experts;
        TopK = topK;
        gate = nn.Linear(dim, experts, hasBias: false, device: device);
        RegisterComponents();
    }

    /// <param name="x">(tokens, dim).</param>
    /// <returns>Weights and expert indices (tokens, top_k), the balance loss, the z-loss, and the token-slots each expert was routed (experts).</returns>
    public (Tensor Weights, Tensor Indices, Tensor AuxLoss, Tensor ZLoss, Tensor Routed) Route(Tensor x)
    {
        using var scope = NewDisposeScope();
        var logits = gate.forward(x);
        var probs = nn.functional.softmax(logits, -1);
        var (top, indices) = probs.topk(TopK, dim: -1);
        var weights = top.div(top.sum(-1, keepdim: true));

        var routed = nn.functional.one_hot(indices, Experts).sum([0, 1]).to(probs.dtype);
        var share = routed.Over(x.shape[0] * TopK);
        var aux = share.mul(probs.mean([0])).sum().Times(Experts);
        var z = logits.logsumexp(-1).square().mean();
        return (weights.MoveToOuterDisposeScope(), indices.MoveToOuterDisposeScope(), aux.MoveToOuterDisposeScope(),
            z.MoveToOuterDisposeScope(), routed.detach().MoveToOuterDisposeScope());
    }
}
