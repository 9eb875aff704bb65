using System.CommandLine;
using System.Globalization;
using Forge.Host.Benchmarks;

namespace Forge.Host.Commands;

/// <summary>`forge bench supervisor`: the job supervisor's barrier, message count, memory and re-formation at W simulated ranks.</summary>
public static class BenchSupervisorCommand
{
    public static Command Create()
    {
        var ranks = new Option<string>("--ranks") { Description = "comma-separated world sizes", DefaultValueFactory = _ => "8,64,512,4096" };
        var steps = new Option<int>("--steps") { Description = "timed steps per world size", DefaultValueFactory = _ => 20 };
        var stepMs = new Option<int>("--step-ms") { Description = "the fake engine's step time in ms", DefaultValueFactory = _ => 50 };

        var command = new Command("supervisor", "Measure the supervisor's step barrier, messages, memory and re-formation with W simulated ranks.");
        foreach (var option in new Option[] { ranks, steps, stepMs }) command.Options.Add(option);
        command.SetAction(async (parse, ct) => await RunAsync(parse.GetValue(ranks)!, parse.GetValue(steps), parse.GetValue(stepMs), Console.Out, ct));
        return command;
    }

    public static async Task<int> RunAsync(string ranks, int steps, int stepMs, TextWriter output, CancellationToken ct)
    {
        try
        {
            var sizes = ranks.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var w) ? w
                    : throw new ArgumentException($"--ranks \"{ranks}\": \"{s}\" is not a whole number; expected comma-separated world sizes such as 8,64,512"))
                .ToArray();
            var options = new SupervisorBenchmarkOptions { Ranks = sizes, Steps = steps, StepTime = TimeSpan.FromMilliseconds(stepMs) };
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
