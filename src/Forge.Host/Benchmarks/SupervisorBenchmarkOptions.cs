namespace Forge.Host.Benchmarks;

/// <summary>What `forge bench supervisor` measures.</summary>
public sealed record SupervisorBenchmarkOptions
{
    /// <summary>World sizes simulated, one job each.</summary>
    public IReadOnlyList<int> Ranks { get; init; } = [8, 64, 512, 4096];
    /// <summary>Steps timed per world size before a rank is killed, after the warm-up steps.</summary>
    public int Steps { get; init; } = 20;
    /// <summary>
    /// Untimed steps first: the supervisor's per-step code runs once per step, and .NET optimises a method in stages
    /// (30 calls unoptimised, then 30 instrumented, then compiled in the background), so 20 steps alone timed code that
    /// a job of thousands of steps runs only at its start (the barrier's supervisor part was 0.09 ms at steps 40-60 of
    /// W = 512 and 0.03 ms at steps 100-120).
    /// </summary>
    public int WarmupSteps { get; init; } = 100;
    /// <summary>The fake engine's step time: every rank spends this long per step.</summary>
    public TimeSpan StepTime { get; init; } = TimeSpan.FromMilliseconds(50);
    /// <summary>
    /// 1: supervisor and ranks in this process. 3: the supervisor here and the ranks in three child processes,
    /// W/3 each, joined as a cluster on loopback; one of them is then killed with SIGKILL.
    /// </summary>
    public int Processes { get; init; } = 1;
    /// <summary>Where each simulated rank runs its steps.</summary>
    public SimulatedRankThreads RankThreads { get; init; } = SimulatedRankThreads.Pooled;
}
