using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Moe;

/// <summary>
/// KempnerForge's capacity rule: capacity = max(1, ceil(tokens * top_k / experts * factor)), and in
/// each routing slot (the k-th choice of every token) an expert keeps the first `capacity` tokens in
/// sequence order; the rest of that slot's tokens get weight zero, so the residual carries them
/// through unchanged. The count is per slot, not over all slots together, as there.
/// </summary>
public static class ExpertCapacity
{
    public static long Of(long tokens, int topK, int experts, double factor) =>
        Math.Max(1L, (long)Math.Ceiling(tokens * topK / (double)experts * factor));

    /// <param name="weights">(tokens, top_k) routing weights.</param>
    /// <param name="indices">(tokens, top_k) expert indices.</param>
    /// <returns>The weights with every token past its expert's capacity in that slot set to zero.</returns>
    public static Tensor Apply(Tensor weights, Tensor indices, int experts, double factor)
    {
        using var scope = NewDisposeScope();
        var capacity = Of(indices.shape[0], (int)indices.shape[1], experts, factor);
        var chosen = nn.functional.one_hot(indices, experts);                  // (T, K, E)
        var rank = chosen.cumsum(0).mul(chosen).sum(-1);                         // 1-based place of each token in its expert's queue, per slot
        using var limit = capacity.ToScalar();
        var keep = rank.le(limit).to(weights.dtype);
        return weights.mul(keep).MoveToOuterDisposeScope();
    }
}
