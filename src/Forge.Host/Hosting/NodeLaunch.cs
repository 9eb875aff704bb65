using Forge.Model.Config;

namespace Forge.Host.Hosting;

/// <summary>
/// What `forge node` starts: a process that lends its ranks to the job whose supervisor runs in
/// the `forge train --cluster-port` process at the first seed. One rank per listed GPU, or
/// <see cref="CpuRanks"/> CPU ranks when no GPU is listed; none with <see cref="MemoryOnly"/>.
/// </summary>
public sealed record NodeLaunch
{
    public required JobConfig Config { get; init; }
    public required IReadOnlyList<string> Seeds { get; init; }
    public required string Host { get; init; }
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; }
    public IReadOnlyList<int> Gpus { get; init; } = [];
    public int CpuRanks { get; init; } = 1;
    /// <summary>`--memory-only`: no ranks; the process holds other processes' buddy replicas in its memory.</summary>
    public bool MemoryOnly { get; init; }
}
