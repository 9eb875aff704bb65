using System.CommandLine;
using Forge.Host.Benchmarks;

namespace Forge.Host.Commands;

/// <summary>
/// `forge bench model --preset ca-tiny|ca-1b|moe-ca-tiny|mot-tiny|moe-ca-debug|mot-debug [--steps N] [--warmup N] [--dtype bf16|fp32]
/// [--device cuda|cpu] [--breakdown] [--levers]`: times full training steps of the VLM on one device.
/// Create() returns the `model` subcommand; it belongs under the shared `bench` command.
/// </summary>
public static class BenchModelCommand
{
    public static Command Create()
    {
        var preset = CommonOptions.BenchPreset();
        var steps = CommonOptions.BenchSteps();
        var warmup = CommonOptions.BenchWarmup();
        var dtype = CommonOptions.BenchDType();
        var device = CommonOptions.BenchDevice();
        var breakdown = new Option<bool>("--breakdown") { Description = "synchronise between phases and print forward/backward/clip/optimizer times" };
        var levers = new Option<bool>("--levers") { Description = "measure with every speed lever off, each alone (chunked-loss, bf16-clip-norm, adamw-kernel, sdpa-gqa, jit-fusion), then all on; print a table" };
        var peak = new Option<double>("--peak-tflops") { Description = "dense bf16 peak for MFU (H100 SXM: 989)", DefaultValueFactory = _ => 989 };

        var command = new Command("model", "Time training steps (forward, backward, clip, AdamW) of the VLM (cross-attention, MoE or MoT presets): steps/s, text tokens/s, MFU, peak memory.");
        foreach (var option in new Option[] { preset, steps, warmup, dtype, device, breakdown, levers, peak }) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var options = new ModelBenchmarkOptions
            {
                Preset = parse.GetValue(preset)!,
                Steps = parse.GetValue(steps),
                Warmup = parse.GetValue(warmup),
                DType = parse.GetValue(dtype)!,
                Device = parse.GetValue(device)!,
                Breakdown = parse.GetValue(breakdown),
                Levers = parse.GetValue(levers),
                PeakTflops = parse.GetValue(peak),
            };
            if (options.Steps < 1 || options.Warmup < 0)
            {
                Console.Error.WriteLine($"error: --steps must be at least 1 and --warmup at least 0 (got {options.Steps}, {options.Warmup})");
                return 2;
            }
            try
            {
                ModelStepBenchmark.Run(Console.Out, options);
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                // Configuration and environment problems: the message names the fix; a stack trace would bury it.
                Console.Error.WriteLine($"error: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
