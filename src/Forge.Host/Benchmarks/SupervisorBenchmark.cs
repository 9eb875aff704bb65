using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Forge.Actors.Cluster;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Actors.Supervision;
using Forge.Model.Evaluation;

namespace Forge.Host.Benchmarks;

/// <summary>
/// `forge bench supervisor`: the control plane at W ranks, by simulation. Each world size runs the real
/// <see cref="JobSupervisor"/>, <see cref="RankHost"/> and <see cref="RankActor"/>s over an engine that only
/// spends the step time and needs no collectives (<see cref="SimulatedRanks"/>): in one process, or with the
/// ranks in three child processes joined as a cluster on loopback (<see cref="RanksProcess"/>). It times the
/// barrier of every step, counts the step messages, weighs the supervisor's process, then kills one rank actor
/// and times the re-formation up to the first completed step of the new world; with three processes it then
/// kills one of them with SIGKILL and times that re-formation too.
/// </summary>
public static class SupervisorBenchmark
{
    private static readonly TimeSpan PhaseTimeout = TimeSpan.FromMinutes(5);

    public static async Task<IReadOnlyList<SupervisorBenchmarkResult>> RunAsync(SupervisorBenchmarkOptions options, TextWriter output, CancellationToken ct = default)
    {
        if (options.Processes is not (1 or 3)) throw new ArgumentException($"--processes {options.Processes}: expected 1 or 3");
        var smallest = options.Processes == 1 ? 2 : 6;   // one rank is killed; with three processes, a process of at least two
        if (options.Ranks.Count == 0 || options.Ranks.Any(w => w < smallest))
            throw new ArgumentException($"--ranks {string.Join(",", options.Ranks)}: expected world sizes of at least {smallest} with --processes {options.Processes}");
        if (options.Steps < 2) throw new ArgumentException($"--steps {options.Steps}: expected at least 2");
        if (options.WarmupSteps < 0) throw new ArgumentException($"--warmup-steps {options.WarmupSteps}: expected 0 or more");
        if (options.StepTime < TimeSpan.Zero) throw new ArgumentException($"--step-ms {options.StepTime.TotalMilliseconds}: expected 0 or more");

        var layout = options.Processes == 1 ? "one process" : "supervisor here, ranks in three child processes on loopback";
        var threads = options.RankThreads == SimulatedRankThreads.Pooled
            ? "pooled rank threads (thread pool, step time on a timer)"
            : "dedicated rank threads (one OS thread per rank, sleeping through the step)";
        output.WriteLine($"supervisor control plane: {options.Steps} timed steps after {options.WarmupSteps} untimed ones, of {options.StepTime.TotalMilliseconds:F0} ms per world size, {layout}, fake engine, {threads}");
        output.WriteLine("barrier = the supervisor passing step s's barrier (its last StepDone) to the last rank starting step s+1; fan-in = the last rank's end of step s to that barrier;");
        output.WriteLine("round trip = fan-in + barrier; the supervisor's messages per step, counted where they arrive (step results in at its mailbox, steps out at the rank hosts');");
        output.WriteLine("heap = the supervisor's process's GC heap growth with the job running");
        if (options.Processes == 3)
            output.WriteLine("re-form s: one rank actor killed; process re-form s: one child process (W/3 ranks) killed with SIGKILL; both to the first completed step of the new world");
        output.WriteLine($"{"ranks",6} {"form s",8} {"barrier median ms",18} {"barrier p99 ms",15} {"fan-in median ms",17} {"round trip ms",14} {"msgs in/step",13} {"msgs out/step",14} " +
                         $"{"heap MiB",9} {"working set MiB",16} {"re-form s",10}" + (options.Processes == 3 ? $" {"process re-form s",18}" : ""));
        var results = new List<SupervisorBenchmarkResult>();
        foreach (var ranks in options.Ranks)
        {
            var r = options.Processes == 1
                ? await RunOneProcessAsync(ranks, options, ct).ConfigureAwait(false)
                : await RunThreeProcessesAsync(ranks, options, ct).ConfigureAwait(false);
            results.Add(r);
            output.WriteLine($"{r.Ranks,6} {r.FormSeconds,8:F3} {r.BarrierMedianMs,18:F3} {r.BarrierP99Ms,15:F3} {r.FanInMedianMs,17:F3} {r.RoundTripMedianMs,14:F3} {r.MessagesInPerStep,13:F0} {r.MessagesOutPerStep,14:F0} " +
                             $"{r.HeapMiB,9:F1} {r.WorkingSetMiB,16:F1} {r.ReformSeconds,10:F3}" + (r.ProcessReformSeconds is { } p ? $" {p,18:F3}" : ""));
        }
        return results;
    }

    /// <summary>Killing a process on purpose makes remoting warn about it every second: only errors are news here.</summary>
    internal static readonly Akka.Configuration.Config QuietAkka = Akka.Configuration.ConfigurationFactory.ParseString("akka.loglevel = ERROR\nakka.stdout-loglevel = ERROR")
        .WithFallback(StepMessageCount.Mailboxes);

    private static JobSupervisorSettings Settings(string jobId, int ranks) => new()
    {
        JobId = jobId,
        MaxSteps = long.MaxValue,          // the benchmark ends the job by shutting the system down
        CheckpointInterval = 0,            // no checkpoints: the control plane alone
        MinRanks = 1,
        MaxRanks = ranks,
        ExpectedRanks = ranks,
        FormationSettle = TimeSpan.Zero,
        GlobalBatchSize = ranks,
        FormTimeout = PhaseTimeout,
        StepTimeout = PhaseTimeout,
    };

    private static async Task<SupervisorBenchmarkResult> RunOneProcessAsync(int ranks, SupervisorBenchmarkOptions options, CancellationToken ct)
    {
        StepMessageCount.Reset();
        var heapBefore = SettledHeap();
        var jobId = $"bench-supervisor-{ranks}";
        var marks = new StepMarks();
        var observer = new Observer(options.WarmupSteps + options.Steps + 1);
        using var record = new TemporaryFile();
        // One store for the supervisor and every rank: a rank proves it writes the job's store before it gets work.
        var store = new BenchJobStore(record.Path);
        var services = SimulatedRanks.Services(jobId, options.StepTime, options.RankThreads, marks, store);
        var system = ActorSystem.Create(ForgeAkkaConfig.SystemName, StepMessageCount.Mailboxes.WithFallback(ForgeAkkaConfig.SingleProcess()));
        try
        {
            var start = Stopwatch.GetTimestamp();
            system.ActorOf(JobSupervisor.Props(Settings(jobId, ranks), store, observer), JobSupervisor.Name);
            // Replacements would register during the measurement; an hour keeps the dead rank's slot empty.
            system.ActorOf(RankHost.Props(Enumerable.Repeat(services, ranks).ToList(), $"/user/{JobSupervisor.Name}", TimeSpan.FromHours(1)), "ranks");
            await observer.FirstWorldRan.Task.WaitAsync(PhaseTimeout, ct).ConfigureAwait(false);
            var (formSeconds, heapMiB, workingSetMiB) = (Stopwatch.GetElapsedTime(start, observer.JobStartedAt).TotalSeconds, HeapGrowthMiB(heapBefore), WorkingSetMiB());
            var first = marks.FirstWorld(options.WarmupSteps, options.Steps, observer.BarrierPassedAt);

            // Slot k's first rank is named rank-k-k (one generation per spawn, in slot order).
            var victim = await system.ActorSelection($"/user/ranks/rank-{ranks - 1}-{ranks - 1}").ResolveOne(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            var reformSeconds = await TimeReformationAsync(observer, () => victim.Tell(Kill.Instance), ct).ConfigureAwait(false);
            return Result(ranks, formSeconds, first, heapMiB, workingSetMiB, reformSeconds, processReformSeconds: null);
        }
        finally
        {
            await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);
        }
    }

    private static async Task<SupervisorBenchmarkResult> RunThreeProcessesAsync(int ranks, SupervisorBenchmarkOptions options, CancellationToken ct)
    {
        StepMessageCount.Reset();
        var heapBefore = SettledHeap();
        var jobId = $"bench-supervisor-{ranks}-3p";
        var marks = new StepMarks();
        var observer = new Observer(options.WarmupSteps + options.Steps + 1);
        using var record = new TemporaryFile();
        var store = new BenchJobStore(record.Path);
        var settings = Settings(jobId, ranks);
        var starts = new SupervisorStarts(jobId, new SupervisorStart.Launch(settings),
            _ => throw new InvalidOperationException("the supervisor benchmark's supervisor never moves"));
        // The supervisor's process is the first seed and hosts no ranks; W/3 ranks in each child (the first ones take the rest).
        var node = JobNode.Start("127.0.0.1", FreePort(), [], [], starts, store, observer, akka: QuietAkka);
        var children = new List<RanksProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
                children.Add(RanksProcess.Start($"ranks process {i}", node.Address, ranks / 3 + (i < ranks % 3 ? 1 : 0), options, jobId, record.Path, marks));
            var addresses = await Task.WhenAll(children.Select(c => c.Address)).WaitAsync(PhaseTimeout, ct).ConfigureAwait(false);
            var start = Stopwatch.GetTimestamp();
            await Failing(observer.FirstWorldRan.Task, children, ct).ConfigureAwait(false);
            var (formSeconds, heapMiB, workingSetMiB) = (Stopwatch.GetElapsedTime(start, observer.JobStartedAt).TotalSeconds, HeapGrowthMiB(heapBefore), WorkingSetMiB());
            await marks.AwaitFirstWorldAsync(options.WarmupSteps + options.Steps, ranks, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            var first = marks.FirstWorld(options.WarmupSteps, options.Steps, observer.BarrierPassedAt);

            var firstCount = ranks / 3 + (ranks % 3 > 0 ? 1 : 0);
            var victim = await node.System.ActorSelection($"{ForgeAkkaConfig.Address(addresses[0])}/user/ranks/rank-{firstCount - 1}-{firstCount - 1}")
                .ResolveOne(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            var reformSeconds = await TimeReformationAsync(observer, () => victim.Tell(Kill.Instance), ct, children).ConfigureAwait(false);
            var processReformSeconds = await TimeReformationAsync(observer, children[2].Kill, ct, children[..2]).ConfigureAwait(false);
            return Result(ranks, formSeconds, first, heapMiB, workingSetMiB, reformSeconds, processReformSeconds);
        }
        finally
        {
            foreach (var child in children) child.Dispose();
            await node.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Seconds from `kill` to the first completed step of the world formed after it.</summary>
    private static async Task<double> TimeReformationAsync(Observer observer, Action kill, CancellationToken ct, IReadOnlyList<RanksProcess>? children = null)
    {
        var reformed = observer.ArmReformation();
        var killedAt = Stopwatch.GetTimestamp();
        kill();
        var at = await Failing(reformed, children ?? [], ct).ConfigureAwait(false);
        return Stopwatch.GetElapsedTime(killedAt, at).TotalSeconds;
    }

    /// <summary>`task` within the phase timeout; a timeout names what the children printed last.</summary>
    private static async Task<T> Failing<T>(Task<T> task, IReadOnlyList<RanksProcess> children, CancellationToken ct)
    {
        try
        {
            return await task.WaitAsync(PhaseTimeout, ct).ConfigureAwait(false);
        }
        catch (TimeoutException) when (children.Count > 0)
        {
            throw new TimeoutException($"no progress within {PhaseTimeout}; the rank processes printed last:\n" +
                                       string.Join("\n", children.Select(c => $"{c.Name}:\n{c.LastLines}")));
        }
    }

    private static async Task Failing(Task task, IReadOnlyList<RanksProcess> children, CancellationToken ct) =>
        await Failing(task.ContinueWith(t => { t.GetAwaiter().GetResult(); return true; }, TaskScheduler.Default), children, ct).ConfigureAwait(false);

    private static SupervisorBenchmarkResult Result(int ranks, double formSeconds, FirstWorldFigures first, double heapMiB, double workingSetMiB,
        double reformSeconds, double? processReformSeconds) =>
        new(ranks, formSeconds, Percentile(first.FanOutMs, 0.5), Percentile(first.FanOutMs, 0.99), Percentile(first.FanInMs, 0.5), Percentile(first.RoundTripMs, 0.5),
            first.ResultsInPerStep, first.StepsOutPerStep, heapMiB, workingSetMiB, reformSeconds, processReformSeconds);

    private static long SettledHeap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static double HeapGrowthMiB(long before) => (GC.GetTotalMemory(forceFullCollection: true) - before) / (1024.0 * 1024.0);

    private static double WorkingSetMiB() => Process.GetCurrentProcess().WorkingSet64 / (1024.0 * 1024.0);

    /// <summary>A free loopback port for the supervisor's process, the first seed (a seed needs a fixed port).</summary>
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Nearest-rank percentile of `values` in ms.</summary>
    private static double Percentile(IReadOnlyList<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        var index = Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1);
        return sorted[index];
    }

    private sealed class TemporaryFile : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"forge-bench-supervisor-{Guid.NewGuid():N}.json");

        public void Dispose()
        {
            File.Delete(Path);
            File.Delete(Path + ".partial");
        }
    }

    private sealed class Observer(int firstWorldSteps) : ITrainingObserver
    {
        private readonly ConcurrentDictionary<long, long> _barrierPassedAt = new();

        private int _steps;
        private volatile bool _armed, _newWorld;
        private volatile TaskCompletionSource<long>? _reformed;

        public long JobStartedAt { get; private set; }
        /// <summary>When the supervisor passed each first-world barrier: it reports the step right after its last StepDone.</summary>
        public IReadOnlyDictionary<long, long> BarrierPassedAt => _barrierPassedAt;
        public TaskCompletionSource FirstWorldRan { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes at the first step of the next world formed from now on.</summary>
        public Task<long> ArmReformation()
        {
            var reformed = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            _newWorld = false;
            _reformed = reformed;
            _armed = true;
            return reformed.Task;
        }

        public void OnJobStarted(JobStarted info) => JobStartedAt = Stopwatch.GetTimestamp();

        public void OnStep(StepReport report)
        {
            if (!_armed) _barrierPassedAt.TryAdd(report.Step, Stopwatch.GetTimestamp());
            if (Interlocked.Increment(ref _steps) == firstWorldSteps) FirstWorldRan.TrySetResult();
            if (_newWorld) _reformed?.TrySetResult(Stopwatch.GetTimestamp());
        }

        public void OnEval(long step, HeldOutLosses losses) { }
        public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) { }

        public void OnMessage(string message)
        {
            if (_armed && message.Contains(" formed with ", StringComparison.Ordinal)) _newWorld = true;
        }

        public void OnJobFinished(JobFinished info)
        {
            var error = new InvalidOperationException($"the benchmark's job ended early: {info.Error}");
            FirstWorldRan.TrySetException(error);
            _reformed?.TrySetException(error);
        }
    }
}
