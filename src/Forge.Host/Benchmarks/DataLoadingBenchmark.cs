using System.Diagnostics;
using System.Text.Json;
using Forge.Model.Config;
using Forge.Model.Data;
using SkiaSharp;

namespace Forge.Host.Benchmarks;

/// <summary>
/// Measures the input pipeline on this machine: single-thread decode speed (decode, composite,
/// resize, normalise, tokenise) and what <see cref="PrefetchingBatchSource"/> delivers to one
/// rank, including how long the caller waits per step when it spends a given time computing.
/// </summary>
public static class DataLoadingBenchmark
{
    public static DataBenchmarkResult Run(TextWriter output, DataBenchmarkOptions options)
    {
        if (options.Steps <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.Steps, "steps must be positive");
        string? scratch = null;
        try
        {
            var manifest = options.Manifest;
            if (options.SyntheticImages > 0)
            {
                scratch = Directory.CreateTempSubdirectory("forge-bench-data-").FullName;
                manifest = WriteSyntheticSet(scratch, options.SyntheticImages);
            }
            var data = new DataConfig { Tokenizer = options.Tokenizer, ImageSize = options.ImageSize };
            var dataset = ImageTextDataset.Open(manifest, data, options.MaxTextLen);
            output.WriteLine($"data set      : {manifest} ({dataset.Count} samples, {options.ImageSize}x{options.ImageSize}, " +
                             $"{dataset.Tokenizer.Name} tokenizer, max_text_len {options.MaxTextLen})");

            var decodeRate = MeasureDecode(dataset, Math.Min(options.DecodeImages, dataset.Count));
            output.WriteLine($"decode        : 1 thread, {decodeRate:F0} images/s (decode, composite, resize, normalise, tokenise)");

            using var source = new PrefetchingBatchSource(dataset, options.GlobalBatchSize, data.Seed, options.Workers, options.Prefetch);
            var (batchRate, waitMs) = MeasureSource(source, options);
            var (hits, misses) = source.PrefetchStats;
            output.WriteLine($"batch source  : {source.LoaderThreads} loader threads, prefetch {options.Prefetch}, global batch {options.GlobalBatchSize}: " +
                             $"{batchRate:F1} batches/s = {batchRate * options.GlobalBatchSize:F0} images/s");
            output.WriteLine($"caller wait   : {waitMs:F2} ms per step beside {options.ComputeMilliseconds:F0} ms of simulated compute " +
                             $"(prefetch hits {hits}, misses {misses})");
            return new DataBenchmarkResult(dataset.Count, decodeRate, batchRate, batchRate * options.GlobalBatchSize, waitMs, hits, misses);
        }
        finally
        {
            if (scratch is not null) Directory.Delete(scratch, recursive: true);
        }
    }

    private static double MeasureDecode(ImageTextDataset dataset, int images)
    {
        var pixels = new float[dataset.Transform.PixelCount];
        var ids = new long[dataset.Captions.MaxTextLen];
        var labels = new long[dataset.Captions.MaxTextLen];
        dataset.Fill(0, pixels, ids, labels); // first-call costs (native library load) are not decode speed
        var clock = Stopwatch.StartNew();
        for (var row = 0; row < images; row++) dataset.Fill(row, pixels, ids, labels);
        return images / clock.Elapsed.TotalSeconds;
    }

    private static (double BatchesPerSecond, double MeanWaitMs) MeasureSource(PrefetchingBatchSource source, DataBenchmarkOptions options)
    {
        var waiting = TimeSpan.Zero;
        var clock = Stopwatch.StartNew();
        for (var step = 0L; step < options.Steps; step++)
        {
            var asked = Stopwatch.StartNew();
            var batches = source.MicroBatches(step, worldSize: 1, rank: 0, microBatchSize: options.GlobalBatchSize);
            waiting += asked.Elapsed;
            foreach (var batch in batches) batch.Dispose();
            if (options.ComputeMilliseconds > 0) Thread.Sleep(TimeSpan.FromMilliseconds(options.ComputeMilliseconds));
        }
        return (options.Steps / clock.Elapsed.TotalSeconds, waiting.TotalMilliseconds / options.Steps);
    }

    /// <summary>Random-noise RGBA PNGs with emoji-like transparency and short captions.</summary>
    private static string WriteSyntheticSet(string folder, int count)
    {
        var random = new Random(0);
        var lines = new List<string>(count);
        Directory.CreateDirectory(Path.Combine(folder, "images"));
        using var bitmap = new SKBitmap(new SKImageInfo(64, 64, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        for (var i = 0; i < count; i++)
        {
            random.NextBytes(bitmap.GetPixelSpan());
            var image = $"images/{i}.png";
            using (var data = bitmap.Encode(SKEncodedImageFormat.Png, 100))
            using (var file = File.Create(Path.Combine(folder, image)))
                data.SaveTo(file);
            lines.Add(JsonSerializer.Serialize(new { image, caption = $"synthetic noise image number {i}" }));
        }
        var manifest = Path.Combine(folder, "train.jsonl");
        File.WriteAllLines(manifest, lines);
        return manifest;
    }
}
