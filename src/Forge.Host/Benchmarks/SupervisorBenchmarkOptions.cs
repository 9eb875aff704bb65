namespace Forge.Host.Benchmarks;

/// <summary>What `forge bench supervisor` measures.</summary>
public sealed record SupervisorBenchmarkOptions
{
    /// <summary>World sizes simulated, one job each.</summary>
    public IReadOnlyList<int> Ranks { get; init; } = [8, 64, 512, 4096];
    /// <summary>Steps timed per world size before a rank is killed (the first step is warm-up and not timed).</summary>
    public int Steps { get; init; } = 20;
    /// <summary>The fake engine's step time: every rank sleeps this long per step.</summary>
    public TimeSpan StepTime { get; init; } = TimeSpan.FromMilliseconds(50);
}
