namespace Forge.Model.Config;

/// <summary>`[distributed]`: how ranks talk. "auto" picks NCCL on GPUs, the CPU backend otherwise.</summary>
public sealed record DistributedConfig
{
    public string Backend { get; init; } = "auto";
    /// <summary>Seconds a rank may take to report a step before the supervisor declares it lost.</summary>
    public double StepTimeoutSec { get; init; } = 600;
    /// <summary>Seconds to wait for the minimum ranks to join.</summary>
    public double FormTimeoutSec { get; init; } = 120;
}
