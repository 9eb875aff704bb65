using System.CommandLine;
using Forge.Actors.Collectives;
using Forge.Host.Benchmarks;
using Forge.Model.Config;
using Forge.Model.Distributed;
using Forge.Model.Training;
using TorchSharp;

namespace Forge.Host.Commands;

/// <summary>
/// `forge bench engine --preset ca-tiny|ca-1b [--ranks N] [--steps N] [--warmup N] [--dtype bf16|fp32]
/// [--device cuda|cpu] [--backend auto|nccl|tcp|none] [--no-baseline]`: per-phase times of the data-parallel step (compute,
/// reduce-scatter, optimizer, all-gather) and its overhead over the bare model step. Ranks are
/// threads of this process: NCCL across GPUs, the TCP backend on loopback for CPU ranks.
/// Create() returns the `engine` subcommand; it belongs under the shared `bench` command.
/// </summary>
public static class BenchEngineCommand
{
    public static Command Create()
    {
        var preset = CommonOptions.BenchPreset();
        var ranks = new Option<int>("--ranks") { Description = "data-parallel ranks (GPUs, or CPU threads)", DefaultValueFactory = _ => 1 };
        var steps = CommonOptions.BenchSteps();
        var warmup = CommonOptions.BenchWarmup();
        var dtype = CommonOptions.BenchDType();
        var device = CommonOptions.BenchDevice();
        var backend = new Option<string>("--backend")
        {
            Description = "collectives: auto (NCCL on CUDA, TCP on CPU; also for one rank), nccl, tcp, or none (one rank, no collectives)",
            DefaultValueFactory = _ => "auto",
        };
        backend.AcceptOnlyFromAmong("auto", "nccl", "tcp", "none");
        var noBaseline = new Option<bool>("--no-baseline") { Description = "skip the bare model step measurement" };

        var command = new Command("engine", "Time data-parallel engine steps per phase (compute, reduce-scatter, optimizer, all-gather) and the overhead over the bare model step.");
        foreach (var option in new Option[] { preset, ranks, steps, warmup, dtype, device, backend, noBaseline }) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var options = new EngineBenchmarkOptions
            {
                Preset = parse.GetValue(preset)!,
                Ranks = parse.GetValue(ranks),
                Steps = parse.GetValue(steps),
                Warmup = parse.GetValue(warmup),
                DType = parse.GetValue(dtype)!,
                Device = parse.GetValue(device)!,
                CompareWithModelStep = !parse.GetValue(noBaseline),
            };
            var backendName = parse.GetValue(backend)!;
            var distributed = new DistributedConfig { Backend = backendName };
            Func<int, ICollectiveBackend>? backendForRank = backendName == "none"
                ? null
                : rank => CollectiveBackends.For(distributed, options.Device == "cuda" ? new torch.Device(DeviceType.CUDA, rank) : torch.CPU, "127.0.0.1");
            try
            {
                EngineStepBenchmark.Run(Console.Out, options, backendForRank);
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                // A bad option combination or a missing device: the message says what to change.
                Console.Error.WriteLine($"forge bench engine: {e.Message}");
                return 2;
            }
        });
        return command;
    }
}
