namespace Forge.Model.Training;

/// <summary>
/// One step's MoE routing, over the whole global batch: the balance loss and the router z-loss (each
/// summed over MoE layers and averaged over micro-batches by their share of the samples, unweighted
/// by their loss weights), and per MoE layer, in layer order, the tokens each expert received after
/// capacity dropping, summed over the step's micro-batches and ranks.
/// </summary>
public sealed record RoutingStats(double AuxLoss, double ZLoss, IReadOnlyList<long[]> TokensPerExpert);
