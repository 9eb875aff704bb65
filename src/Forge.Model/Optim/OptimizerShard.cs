namespace Forge.Model.Optim;

/// <summary>
/// The state one rank owns and checkpoints: its contiguous slice [Start, Start+Length) of the flat
/// parameter layout, as fp32 master weights and AdamW moments, on the host. `Step` is the number of
/// optimizer steps taken (AdamW bias correction). Arrays are exactly Length long.
/// </summary>
public sealed record OptimizerShard(long Start, long Length, float[] Master, float[] ExpAvg, float[] ExpAvgSq, long Step);
