using System.CommandLine;
using Forge.Host.Benchmarks;

namespace Forge.Host.Commands;

/// <summary>`forge bench replica`: the buddy replica channel's push and fetch throughput on loopback.</summary>
public static class BenchReplicaCommand
{
    public static Command Create()
    {
        var mib = new Option<int>("--mib") { Description = "one shard's state in MiB (master + 2 moments)", DefaultValueFactory = _ => 1024 };
        var copies = new Option<int>("--copies") { Description = "copies pushed, as successive steps do", DefaultValueFactory = _ => 4 };
        var command = new Command("replica", "Measure the buddy replica channel: push and fetch throughput of a shard copy on loopback.");
        command.Options.Add(mib);
        command.Options.Add(copies);
        command.SetAction((parse, ct) => ReplicaChannelBenchmark.RunAsync(Console.Out, parse.GetValue(mib), parse.GetValue(copies), ct));
        return command;
    }
}
