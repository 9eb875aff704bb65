using System.CommandLine;
using System.CommandLine.Parsing;
using Forge.Actors.Cluster;
using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Host.Configuration;
using Forge.Host.Hosting;
using Forge.Host.Output;
using Spectre.Console;

namespace Forge.Host.Commands;

/// <summary>
/// `forge node`: a machine that lends its GPUs to a cluster job started by `forge train --cluster-port`.
/// Its ranks must write the job's store (the seed's SQLite file, through the same --runs directory, or
/// the same PostgreSQL database): the supervisor refuses them otherwise. When the process that hosts
/// the job's supervisor dies, the oldest surviving node hosts the next one, and from then on writes
/// the run's outputs (metrics.jsonl, events.jsonl, TensorBoard) into its own run directory.
/// </summary>
public static class NodeCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "TOML job config (the same file the seed trains with)", Required = true };
        var seeds = new Option<string[]>("--seed")
        {
            Description = "Seed host:port (repeatable); the first is the `forge train --cluster-port` process that runs the job",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = true,
        };
        seeds.Validators.Add(ValidateSeeds);
        var host = CommonOptions.Host();
        var port = new Option<int>("--port") { Description = "Cluster port of this node (0: any free port)", DefaultValueFactory = _ => 0 };
        port.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 0 or > 65535) r.AddError("--port must be 0 to 65535"); });
        var gpus = new Option<int[]>("--gpu")
        {
            Description = "CUDA device index to run a rank on (repeatable: --gpu 0 --gpu 1)",
            Arity = ArgumentArity.ZeroOrMore,
            DefaultValueFactory = _ => [],
        };
        gpus.Validators.Add(r => { if ((r.GetValueOrDefault<int[]>() ?? []).Any(g => g < 0)) r.AddError("--gpu must be a device index of 0 or more"); });
        var cpuRanks = new Option<int>("--ranks") { Description = "CPU ranks to lend when no --gpu is given", DefaultValueFactory = _ => 1 };
        cpuRanks.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) r.AddError("--ranks must be at least 1"); });
        var memoryOnly = new Option<bool>("--memory-only")
        {
            Description = "Lend host memory only: keep other processes' buddy replicas (elastic.replica_interval) and train nothing, " +
                          "so that a job without another process, such as one GPU, loses at most a step",
        };
        var set = CommonOptions.Set();
        var runs = CommonOptions.RunsRoot();
        runs.Description = "Directory that holds run directories: the seed's --runs, so that this node's ranks write the job's SQLite store";

        var command = new Command("node",
            "Lend this machine's GPUs (or CPU ranks) to a cluster job: start `forge train <config> --cluster-port P` on one " +
            "machine, then `forge node --config <config> --seed <that-host>:P` on the others. Ctrl-C leaves the job, which re-forms without these ranks.")
        {
            config, seeds, host, port, gpus, cpuRanks, memoryOnly, set, runs,
        };
        command.Validators.Add(r =>
        {
            if (r.GetValue(memoryOnly) && (r.GetValue(gpus) ?? []).Length > 0) r.AddError("--memory-only trains nothing: it takes no --gpu");
        });
        command.SetAction((parse, _) => RunAsync(
            parse.GetValue(config)!, parse.GetValue(set) ?? [], new NodeAddressing(parse.GetValue(seeds)!, parse.GetValue(host)!, parse.GetValue(port)),
            parse.GetValue(gpus) ?? [], parse.GetValue(cpuRanks), ForgeConsole.Create(), parse.GetValue(runs)!, parse.GetValue(memoryOnly)));
        return command;
    }

    internal sealed record NodeAddressing(string[] Seeds, string Host, int Port);

    internal static async Task<int> RunAsync(string configPath, string[] overrides, NodeAddressing address, int[] gpus, int cpuRanks, IAnsiConsole console,
        string runsRoot = "runs", bool memoryOnly = false)
    {
        Forge.Model.Config.JobConfig config;
        try
        {
            config = JobConfigLoader.Load(configPath, overrides);
        }
        catch (ConfigException e)
        {
            return CommandReport.ConfigFailed(console, e);
        }
        if (CommandReport.UntrustedCluster(console, address.Host, config.Security) is { } untrusted) return untrusted;

        var launch = new NodeLaunch
        {
            Config = config, Seeds = address.Seeds, Host = address.Host, Port = address.Port, Gpus = gpus, CpuRanks = cpuRanks, MemoryOnly = memoryOnly,
        };
        var ranks = memoryOnly ? "host memory for buddy replicas (no ranks)" : gpus.Length > 0 ? $"GPU {string.Join(", ", gpus)}" : $"{cpuRanks} CPU rank(s)";
        console.MarkupLine($"node {Markup.Escape(address.Host)}:{address.Port}: lending {Markup.Escape(ranks)} to job {Markup.Escape(config.RunName)} at {Markup.Escape(address.Seeds[0])}");

        using var signals = new StopSignals(message => console.MarkupLine($"[yellow]{Markup.Escape(message)}[/]")).Register();
        var run = RunDirectory.For(runsRoot, config.RunName);
        JobNodeResult result;
        DeferredRunOutputs? files = null;
        void Warn(string failure) => console.MarkupLine($"[yellow]warning:[/] {Markup.Escape(failure)}");
        try
        {
            result = await JobBackend.RunNodeAsync(launch, run, attachJournal =>
            {
                files = new DeferredRunOutputs(config.Metrics, run, attachJournal);
                return new LoggedSteps(config.Train.LogInterval, new TrainingObservers([new LogLineProgress(console.Profile.Out.Writer), files], Warn));
            }, signals.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return CommandReport.Error(console, e.Message, CommandReport.Failed);
        }
        finally
        {
            files?.Dispose();
        }
        var last = result.LastLeave;
        if (last is { Refused: true })
            return CommandReport.Error(console, $"the job at {address.Seeds[0]} refused this node's ranks: {last.Reason}", CommandReport.Failed);
        if (result.Finished is { } finished)
        {
            // This node hosted the job's supervisor at the end: the job's outcome is this process's.
            console.MarkupLine(finished.Completed
                ? $"node: finished the job at step {finished.FinalStep} (its supervisor ran here at the end; outputs in {Markup.Escape(run.Path)})"
                : $"node: the job stopped at step {finished.FinalStep}{(finished.ResumeHint is { } hint ? $"; {Markup.Escape(hint)}" : "")}");
            return finished.Error is null ? 0 : CommandReport.Error(console, finished.Error, CommandReport.Failed);
        }
        console.MarkupLine(signals.StoppedBy is not null || last is null
            ? "node: left the job"
            : $"node: the job released this node's ranks ({Markup.Escape(last.Reason)})");
        return 0;
    }

    private static void ValidateSeeds(OptionResult result)
    {
        foreach (var seed in result.GetValueOrDefault<string[]>() ?? [])
        {
            var colon = seed.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(seed[(colon + 1)..], out var p) || p is < 1 or > 65535)
                result.AddError($"--seed {seed}: expected host:port, for example gpu-a:4053");
        }
    }
}
