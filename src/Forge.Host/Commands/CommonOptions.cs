using System.CommandLine;
using Forge.Host.Hosting;
using Forge.Host.Benchmarks;

namespace Forge.Host.Commands;

/// <summary>Options several commands share, spelt and described once.</summary>
internal static class CommonOptions
{
    public static Option<string[]> Set() => new("--set")
    {
        Description = "Override a config value: --set section.key=value (repeatable; checked like the file)",
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
        DefaultValueFactory = _ => [],
    };

    public static Option<int> Ranks() => new("--ranks")
    {
        Description = "Local ranks: 0 = every visible GPU (one CPU rank without GPUs), N = N ranks",
        DefaultValueFactory = _ => 0,
        Validators = { result =>
        {
            if (result.GetValueOrDefault<int>() < 0) result.AddError("--ranks must be 0 or a positive number of ranks");
        } },
    };

    public static Option<string> RunsRoot() => new("--runs")
    {
        Description = "Directory that holds run directories (runs/<run_name>/)",
        DefaultValueFactory = _ => "runs",
    };

    public static Option<int?> ClusterPort() => new("--cluster-port")
    {
        Description = "Also be a cluster seed on this port, so `forge node --seed <host>:<port>` processes add their ranks to this job",
        Validators = { result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1 or > 65535) result.AddError("--cluster-port must be 1 to 65535");
        } },
    };

    public static Option<string> Host() => new("--host")
    {
        Description = "Address other nodes reach this process at",
        DefaultValueFactory = _ => System.Net.Dns.GetHostName(),
    };

    /// <summary>The seed address of a `train`/`resume` with --cluster-port, else null (a single-process job).</summary>
    public static ClusterAddress? Cluster(ParseResult parse, Option<string> host, Option<int?> port) =>
        parse.GetValue(port) is { } p ? new ClusterAddress(parse.GetValue(host)!, p) : null;

    public static Argument<string> RunDirectory() => new("run-dir")
    {
        Description = "A run directory, e.g. runs/ca-tiny-cpu",
    };

    // The step benchmarks (`bench model`, `bench engine`) time the same presets the same way.

    public static Option<string> BenchPreset()
    {
        var option = new Option<string>("--preset") { Description = string.Join(", ", BenchmarkPresets.Names), DefaultValueFactory = _ => "ca-tiny" };
        option.AcceptOnlyFromAmong([.. BenchmarkPresets.Names]);
        return option;
    }

    public static Option<int> BenchSteps() => new("--steps") { Description = "measured steps", DefaultValueFactory = _ => 10 };

    public static Option<int> BenchWarmup() => new("--warmup") { Description = "unmeasured steps first", DefaultValueFactory = _ => 3 };

    public static Option<string> BenchDType()
    {
        var option = new Option<string>("--dtype") { Description = "bf16 (bf16 compute, fp32 master weights) or fp32", DefaultValueFactory = _ => "bf16" };
        option.AcceptOnlyFromAmong("bf16", "fp32");
        return option;
    }

    public static Option<string> BenchDevice()
    {
        var option = new Option<string>("--device") { Description = "cuda or cpu", DefaultValueFactory = _ => "cuda" };
        option.AcceptOnlyFromAmong("cuda", "cpu");
        return option;
    }
}
