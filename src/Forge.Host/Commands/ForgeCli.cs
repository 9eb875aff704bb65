using System.CommandLine;

namespace Forge.Host.Commands;

/// <summary>The `forge` command tree.</summary>
public static class ForgeCli
{
    public static RootCommand Create()
    {
        var root = new RootCommand("forge: an actor-based elastic trainer for cross-attention vision-language models");
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(ResumeCommand.Create());
        root.Subcommands.Add(NodeCommand.Create());
        root.Subcommands.Add(StatusCommand.Create());
        root.Subcommands.Add(CheckpointsCommand.Create());
        root.Subcommands.Add(PlotCommand.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        root.Subcommands.Add(CertsCommand.Create());
        root.Subcommands.Add(Benchmarks());
        return root;
    }

    /// <summary>`forge bench &lt;area&gt;`: one benchmark per area of the system, each in its own Bench&lt;Area&gt;Command file.</summary>
    internal static Command Benchmarks()
    {
        Command[] areas =
        [
            BenchCheckpointCommand.Create(),
            BenchDataCommand.Create(),
            BenchEngineCommand.Create(),
            BenchModelCommand.Create(),
            BenchReplicaCommand.Create(),
            BenchSupervisorCommand.Create(),
        ];
        var bench = new Command("bench", "Measure this machine: " + string.Join(", ", areas.Select(a => a.Name)) + " benchmarks.");
        foreach (var area in areas) bench.Subcommands.Add(area);
        bench.Subcommands.Add(BenchSupervisorCommand.CreateRanksProcess());
        return bench;
    }

    /// <summary>
    /// How commands are invoked: System.CommandLine's own SIGINT/SIGTERM handling is off, because it
    /// would end the process after a fixed timeout while a job is still writing its checkpoint.
    /// </summary>
    public static InvocationConfiguration Invocation(TextWriter? output = null, TextWriter? error = null) => new()
    {
        ProcessTerminationTimeout = null,
        Output = output ?? Console.Out,
        Error = error ?? Console.Error,
    };
}
