using System.CommandLine;
using Forge.Actors.Training;
using Forge.Host.Configuration;
using Forge.Host.Hosting;
using Forge.Host.Output;
using Spectre.Console;

namespace Forge.Host.Commands;

/// <summary>`forge train config.toml`: the single-machine job, supervisor and local ranks in one process.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var config = new Argument<string>("config") { Description = "TOML job config, e.g. config/ca-tiny-cpu.toml" };
        var set = CommonOptions.Set();
        var ranks = CommonOptions.Ranks();
        var runs = CommonOptions.RunsRoot();
        var clusterPort = CommonOptions.ClusterPort();
        var host = CommonOptions.Host();
        var memoryOnly = new Option<bool>("--memory-only")
        {
            Description = "With --cluster-port: train nothing here; host the job's supervisor and keep the ranks' buddy replicas " +
                          "(elastic.replica_interval) in this process's memory, for `forge node` processes that bring the GPUs",
        };

        var command = new Command("train",
            "Train on this machine: a supervisor and N local ranks (GPUs, or CPU ranks) in one process, " +
            "outputs and a SQLite checkpoint store in runs/<run_name>/ (an earlier run there is moved aside). Ctrl-C checkpoints and stops.")
        {
            config, set, ranks, runs, clusterPort, host, memoryOnly,
        };
        command.Validators.Add(r =>
        {
            if (r.GetValue(memoryOnly) && r.GetValue(clusterPort) is null) r.AddError("--memory-only needs --cluster-port: its ranks come from `forge node` processes");
        });
        command.SetAction((parse, _) => RunAsync(
            parse.GetValue(config)!, parse.GetValue(set) ?? [], parse.GetValue(ranks), parse.GetValue(runs)!,
            CommonOptions.Cluster(parse, host, clusterPort), ForgeConsole.Create(), parse.GetValue(memoryOnly)));
        return command;
    }

    internal static async Task<int> RunAsync(string configPath, string[] overrides, int ranks, string runsRoot, ClusterAddress? cluster, IAnsiConsole console,
        bool memoryOnly = false)
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
        if (cluster is not null && CommandReport.UntrustedCluster(console, cluster.Host, config.Security) is { } untrusted) return untrusted;

        // Before anything is moved or written: a checkpoint that does not fit the model is bad input.
        try
        {
            if (JobBackend.PlanPretrainedLoad(config) is { } plan)
                foreach (var line in plan.Lines()) console.MarkupLine(Markup.Escape(line));
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return CommandReport.Error(console, $"checkpoint.load_path: {e.Message}");
        }

        var run = RunDirectory.For(runsRoot, config.RunName);
        if (run.HoldsRun)
        {
            var archived = run.ArchiveExisting();
            console.MarkupLine($"{Markup.Escape(run.Path)} held an earlier run: moved it to {Markup.Escape(archived)} " +
                               $"(to continue a run instead, use forge resume <run-dir>)");
        }
        var resolved = JobConfigWriter.Save(config, run.Path);
        console.MarkupLine($"config: {Markup.Escape(configPath)} -> {Markup.Escape(resolved)}");

        if (cluster is not null) console.MarkupLine($"cluster seed: forge node processes join with [bold]--seed {Markup.Escape(cluster.ToString())}[/]");

        var options = new TrainingJobOptions { Config = config, RunDirectory = run.Path, Ranks = ranks, Resume = false, MemoryOnly = memoryOnly };
        return await JobSession.RunAsync(config, run, resume: false, console,
            (observer, journal, ct) => JobBackend.RunLocalAsync(options, cluster, observer, journal, ct),
            ct => HeldOutCaptions.FromLatestCheckpointAsync(config, run, ct));
    }
}
