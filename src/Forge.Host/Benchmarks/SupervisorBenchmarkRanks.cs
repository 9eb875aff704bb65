using Forge.Actors.Cluster;
using Forge.Actors.Protocol;
using Forge.Actors.Supervision;
using Forge.Model.Evaluation;

namespace Forge.Host.Benchmarks;

/// <summary>
/// `forge bench supervisor-ranks` (hidden): one child process of `forge bench supervisor --processes 3`. It
/// is a `forge node` with simulated ranks: a <see cref="JobNode"/> that joins the benchmark's cluster at
/// `seed` and lends it `ranks` ranks, printing each step's marks once all of its ranks ended the step. It exits
/// when its standard input closes (the benchmark ended or died).
/// </summary>
public static class SupervisorBenchmarkRanks
{
    public static async Task<int> RunAsync(string seed, int ranks, TimeSpan stepTime, SimulatedRankThreads threads, string jobId, string recordFile)
    {
        var output = TextWriter.Synchronized(Console.Out);
        var marks = new StepMarks(completedHere: output.WriteLine);
        var store = new BenchJobStore(recordFile);
        var services = Enumerable.Repeat(SimulatedRanks.Services(jobId, stepTime, threads, marks, store), ranks).ToList();
        // The supervisor runs in the benchmark's process, the oldest; this one would take over only if that died.
        var starts = new SupervisorStarts(jobId, launch: null,
            _ => throw new InvalidOperationException("the supervisor benchmark's process is gone: its children do not take the job over"));
        var node = JobNode.Start("127.0.0.1", 0, [seed], services, starts, store, new NoObserver(), akka: SupervisorBenchmark.QuietAkka);
        output.WriteLine($"{RanksProcess.AddressPrefix}{node.Address}");
        var inputClosed = Task.Run(() => Console.In.ReadToEnd());
        await Task.WhenAny(inputClosed, node.RunAsync(stopJobOnCancel: false, CancellationToken.None)).ConfigureAwait(false);
        // The benchmark is gone or done with this process: nothing here is worth a slow shutdown.
        await Task.WhenAny(node.DisposeAsync().AsTask(), Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        return 0;
    }

    private sealed class NoObserver : ITrainingObserver
    {
        public void OnJobStarted(JobStarted info) { }
        public void OnStep(StepReport report) { }
        public void OnEval(long step, HeldOutLosses losses) { }
        public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) { }
        public void OnMessage(string message) { }
        public void OnJobFinished(JobFinished info) { }
    }
}
