using System.CommandLine;
using Forge.Actors.Training;
using Forge.Host.Configuration;
using Forge.Host.Hosting;
using Forge.Host.Output;
using Spectre.Console;

namespace Forge.Host.Commands;

/// <summary>`forge resume runs/name`: continue from the latest committed checkpoint, on any number of ranks.</summary>
public static class ResumeCommand
{
    public static Command Create()
    {
        var runDir = CommonOptions.RunDirectory();
        var ranks = CommonOptions.Ranks();
        var set = CommonOptions.Set();
        var clusterPort = CommonOptions.ClusterPort();
        var host = CommonOptions.Host();

        var command = new Command("resume",
            "Continue a run from its latest committed checkpoint, resharded to --ranks ranks. " +
            "Reads runs/<name>/config.resolved.toml; --set may change training keys such as train.max_steps.")
        {
            runDir, ranks, set, clusterPort, host,
        };
        command.SetAction((parse, _) => RunAsync(parse.GetValue(runDir)!, parse.GetValue(ranks), parse.GetValue(set) ?? [],
            CommonOptions.Cluster(parse, host, clusterPort), ForgeConsole.Create()));
        return command;
    }

    internal static async Task<int> RunAsync(string runPath, int ranks, string[] overrides, ClusterAddress? cluster, IAnsiConsole console)
    {
        var run = new RunDirectory(runPath);
        if (!File.Exists(run.ResolvedConfig))
            return CommandReport.Error(console, $"{runPath} is not a run directory: {run.ResolvedConfig} does not exist");

        Forge.Model.Config.JobConfig config;
        try
        {
            config = JobConfigLoader.Load(run.ResolvedConfig, overrides);
        }
        catch (ConfigException e)
        {
            return CommandReport.ConfigFailed(console, e);
        }
        if (cluster is not null && CommandReport.UntrustedCluster(console, cluster.Host, config.Security) is { } untrusted) return untrusted;
        if (overrides.Length > 0) JobConfigWriter.Save(config, run.Path);

        var options = new TrainingJobOptions { Config = config, RunDirectory = run.Path, Ranks = ranks, Resume = true };
        return await JobSession.RunAsync(config, run, resume: true, console,
            (observer, journal, ct) => JobBackend.RunLocalAsync(options, cluster, observer, journal, ct),
            ct => HeldOutCaptions.FromLatestCheckpointAsync(config, run, ct));
    }
}
