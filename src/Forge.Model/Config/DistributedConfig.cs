namespace Forge.Model.Config;

/// <summary>`[distributed]`: how ranks talk. "auto" picks NCCL on GPUs, the CPU backend otherwise.</summary>
public sealed record DistributedConfig
{
    public const string Auto = "auto";
    public const string Nccl = "nccl";
    public const string Tcp = "tcp";
    /// <summary>Another name for <see cref="Tcp"/>, the CPU ranks' backend.</summary>
    public const string Cpu = "cpu";
    /// <summary>The `backend` names: validation accepts exactly these and CollectiveBackends dispatches on each.</summary>
    public static IReadOnlyList<string> Backends { get; } = [Auto, Nccl, Tcp, Cpu];

    public string Backend { get; init; } = Auto;
    /// <summary>Seconds a rank may take to report a step before the supervisor declares it lost.</summary>
    public double StepTimeoutSec { get; init; } = 600;
    /// <summary>Seconds to wait for the minimum ranks to join.</summary>
    public double FormTimeoutSec { get; init; } = 120;
    /// <summary>
    /// Seconds a live rank may take to acknowledge an abort before it counts as lost. Dead ranks are known
    /// sooner (DeathWatch); this bounds a rank whose torch thread is still busy, e.g. in a join that must time out first.
    /// </summary>
    public double AbortTimeoutSec { get; init; } = 120;
}
