namespace Forge.Host.Benchmarks;

/// <summary>
/// One world size of `forge bench supervisor`. The barrier overhead of a step is the time from the
/// supervisor passing step s's barrier (its last StepDone) to the last rank starting step s+1 (the RunStep
/// fan-out); the fan-in is the last rank's end of step s to that barrier; the round trip is both. Heap and
/// working set are the supervisor's process's. <see cref="ProcessReformSeconds"/> is null in one process.
/// </summary>
public sealed record SupervisorBenchmarkResult(
    int Ranks,
    double FormSeconds,
    double BarrierMedianMs,
    double BarrierP99Ms,
    double FanInMedianMs,
    double RoundTripMedianMs,
    double MessagesInPerStep,
    double MessagesOutPerStep,
    double HeapMiB,
    double WorkingSetMiB,
    double ReformSeconds,
    double? ProcessReformSeconds);
