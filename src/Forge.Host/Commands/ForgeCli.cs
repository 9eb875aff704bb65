using System.CommandLine;
using System.Reflection;

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
        if (Benchmarks() is { } bench) root.Subcommands.Add(bench);
        return root;
    }

    /// <summary>
    /// `forge bench &lt;area&gt;`: every <c>Bench&lt;Area&gt;Command</c> class in this namespace with a
    /// <c>public static Command Create()</c>. Each area (data, model, collectives, checkpoints)
    /// contributes its benchmark as one such file, so adding one needs no edit here.
    /// </summary>
    internal static Command? Benchmarks()
    {
        var areas = BenchmarkCommandTypes()
            .Select(t => t.GetMethod("Create", BindingFlags.Public | BindingFlags.Static, Type.EmptyTypes))
            .Where(create => create?.ReturnType == typeof(Command))
            .Select(create => (Command)create!.Invoke(null, null)!)
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .ToList();
        if (areas.Count == 0) return null;
        var bench = new Command("bench", "Measure this machine: " + string.Join(", ", areas.Select(a => a.Name)) + " benchmarks.");
        foreach (var area in areas) bench.Subcommands.Add(area);
        return bench;
    }

    internal static IEnumerable<Type> BenchmarkCommandTypes() =>
        typeof(ForgeCli).Assembly.GetTypes().Where(t =>
            t.Namespace == typeof(ForgeCli).Namespace && t is { IsAbstract: true, IsSealed: true, IsPublic: true }
            && t.Name.StartsWith("Bench", StringComparison.Ordinal) && t.Name.EndsWith("Command", StringComparison.Ordinal));

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
