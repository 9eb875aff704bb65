using System.CommandLine;
using System.Globalization;
using Forge.Host.Benchmarks;

namespace Forge.Host.Commands;

/// <summary>
/// `forge bench supervisor`: the job supervisor's barrier, message count, memory and re-formation at W simulated ranks;
/// and `forge bench supervisor-ranks`, the hidden child process it starts with --processes 3.
/// </summary>
public static class BenchSupervisorCommand
{
    public static Command Create()
    {
        var ranks = new Option<string>("--ranks") { Description = "comma-separated world sizes", DefaultValueFactory = _ => "8,64,512,4096" };
        var steps = new Option<int>("--steps") { Description = "timed steps per world size", DefaultValueFactory = _ => 20 };
        var warmup = new Option<int>("--warmup-steps") { Description = "untimed steps per world size before the timed ones", DefaultValueFactory = _ => 100 };
        var stepMs = new Option<int>("--step-ms") { Description = "the fake engine's step time in ms", DefaultValueFactory = _ => 50 };
        var processes = new Option<int>("--processes")
        {
            Description = "1: supervisor and ranks in this process; 3: the ranks in three child processes on loopback (one is then killed with SIGKILL)",
            DefaultValueFactory = _ => 1,
        };
        var threads = RankThreads();

        var command = new Command("supervisor", "Measure the supervisor's step barrier, messages, memory and re-formation with W simulated ranks.");
        foreach (var option in new Option[] { ranks, steps, warmup, stepMs, processes, threads }) command.Options.Add(option);
        command.SetAction(async (parse, ct) => await RunAsync(parse.GetValue(ranks)!, parse.GetValue(steps), parse.GetValue(stepMs), Console.Out, ct,
            parse.GetValue(processes), parse.GetValue(threads), parse.GetValue(warmup)));
        return command;
    }

    /// <summary>The child process of `forge bench supervisor --processes 3`: not for users, hence hidden.</summary>
    public static Command CreateRanksProcess()
    {
        var seed = new Option<string>("--seed") { Description = "the benchmark's cluster address, host:port", Required = true };
        var ranks = new Option<int>("--ranks") { Description = "simulated ranks in this process", Required = true };
        var stepMs = new Option<double>("--step-ms") { Description = "the fake engine's step time in ms", Required = true };
        var job = new Option<string>("--job") { Description = "the benchmark job's id", Required = true };
        var record = new Option<string>("--job-record") { Description = "the file holding the job record", Required = true };
        var threads = RankThreads();
        var command = new Command("supervisor-ranks", "Simulated ranks of `forge bench supervisor --processes 3` (started by it).") { Hidden = true };
        foreach (var option in new Option[] { seed, ranks, stepMs, job, record, threads }) command.Options.Add(option);
        command.SetAction(async (parse, _) => await SupervisorBenchmarkRanks.RunAsync(parse.GetValue(seed)!, parse.GetValue(ranks),
            TimeSpan.FromMilliseconds(parse.GetValue(stepMs)), parse.GetValue(threads), parse.GetValue(job)!, parse.GetValue(record)!));
        return command;
    }

    private static Option<SimulatedRankThreads> RankThreads() => new("--rank-threads")
    {
        Description = "pooled: each rank's steps in order on the thread pool, the step time on a timer (each rank of a cluster wakes on its own host); " +
                      "dedicated: one OS thread per rank, sleeping through the step",
        DefaultValueFactory = _ => SimulatedRankThreads.Pooled,
    };

    public static async Task<int> RunAsync(string ranks, int steps, int stepMs, TextWriter output, CancellationToken ct,
        int processes = 1, SimulatedRankThreads rankThreads = SimulatedRankThreads.Pooled, int warmupSteps = 100)
    {
        try
        {
            var sizes = ranks.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var w) ? w
                    : throw new ArgumentException($"--ranks \"{ranks}\": \"{s}\" is not a whole number; expected comma-separated world sizes such as 8,64,512"))
                .ToArray();
            var options = new SupervisorBenchmarkOptions
            {
                Ranks = sizes, Steps = steps, WarmupSteps = warmupSteps, StepTime = TimeSpan.FromMilliseconds(stepMs), Processes = processes, RankThreads = rankThreads,
            };
            await SupervisorBenchmark.RunAsync(options, output, ct);
            return 0;
        }
        catch (ArgumentException e)
        {
            output.WriteLine(e.Message);
            return 2;
        }
    }
}
