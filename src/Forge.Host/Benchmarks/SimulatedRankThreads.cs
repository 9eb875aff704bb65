namespace Forge.Host.Benchmarks;

/// <summary>Where `forge bench supervisor`'s simulated ranks run their steps.</summary>
public enum SimulatedRankThreads
{
    /// <summary>Each rank on its own OS thread that sleeps through the step, as a real rank's torch thread blocks in it.</summary>
    Dedicated,
    /// <summary>Each rank's work in order on the thread pool, the step's time on a timer (<see cref="PooledRankThread"/>).</summary>
    Pooled,
}
