using System.CommandLine;
using Forge.Host.Benchmarks;

namespace Forge.Host.Commands;

/// <summary>`forge bench data`: images/s decoded and batches/s produced by the input pipeline on this machine.</summary>
public static class BenchDataCommand
{
    public static Command Create()
    {
        var defaults = new DataBenchmarkOptions();
        var manifest = new Option<string>("--manifest") { Description = "JSONL manifest to read", DefaultValueFactory = _ => defaults.Manifest };
        var synthetic = new Option<int>("--synthetic") { Description = "Generate this many random 64x64 PNGs instead of reading a manifest" };
        var tokenizer = new Option<string>("--tokenizer") { Description = "byte, cl100k_base or o200k_base", DefaultValueFactory = _ => defaults.Tokenizer };
        var imageSize = new Option<int>("--image-size") { Description = "Decoded image side", DefaultValueFactory = _ => defaults.ImageSize };
        var maxTextLen = new Option<int>("--max-text-len") { Description = "Tokens per caption row", DefaultValueFactory = _ => defaults.MaxTextLen };
        var batch = new Option<int>("--global-batch-size") { Description = "Samples per step", DefaultValueFactory = _ => defaults.GlobalBatchSize };
        var steps = new Option<int>("--steps") { Description = "Steps to load", DefaultValueFactory = _ => defaults.Steps };
        var workers = new Option<int>("--workers") { Description = "Loader threads (0 = min(4, cores))", DefaultValueFactory = _ => defaults.Workers };
        var prefetch = new Option<int>("--prefetch") { Description = "Steps decoded ahead", DefaultValueFactory = _ => defaults.Prefetch };
        var compute = new Option<double>("--compute-ms") { Description = "Simulated compute per step, to see whether loading keeps ahead" };

        var command = new Command("data", "Measure image decoding (images/s) and batch production (batches/s) on this machine.");
        foreach (var option in new Option[] { manifest, synthetic, tokenizer, imageSize, maxTextLen, batch, steps, workers, prefetch, compute })
            command.Options.Add(option);
        command.SetAction(parse =>
        {
            DataLoadingBenchmark.Run(Console.Out, new DataBenchmarkOptions
            {
                Manifest = parse.GetValue(manifest)!,
                SyntheticImages = parse.GetValue(synthetic),
                Tokenizer = parse.GetValue(tokenizer)!,
                ImageSize = parse.GetValue(imageSize),
                MaxTextLen = parse.GetValue(maxTextLen),
                GlobalBatchSize = parse.GetValue(batch),
                Steps = parse.GetValue(steps),
                Workers = parse.GetValue(workers),
                Prefetch = parse.GetValue(prefetch),
                ComputeMilliseconds = parse.GetValue(compute),
            });
            return 0;
        });
        return command;
    }
}
