using Forge.Model.Config;
using Forge.Model.Data;
using Forge.Model.Distributed;
using Forge.Model.Modeling;
using Forge.Model.Runtime;
using Forge.Model.Text;
using Forge.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Host.Benchmarks;

/// <summary>
/// Times full data-parallel steps of <see cref="ShardedRankEngine"/> on a model preset of
/// <see cref="BenchmarkPresets"/>: data, compute (forward and backward over the micro-batch),
/// reduce-scatter, optimizer (norm all-reduce, AdamW on the shard with the clip folded in) and
/// all-gather, then the overhead over the bare single-device step of the same model and batch. The
/// measured steps run twice: synchronised at phase boundaries for the breakdown, then unsynchronised
/// for the step time, since the bare step is timed without phase waits too. Each rank computes one
/// micro-batch of batch_size rows per step, handed out on the host as PrefetchingBatchSource hands
/// out batches decoded ahead on its threads: the data phase is what training sees when the prefetcher
/// keeps up, and the host-to-device copy counts in compute, as in training.
/// </summary>
public static class EngineStepBenchmark
{
    /// <param name="backendForRank">Collective backend of each rank; null runs one rank with no collectives at all.</param>
    public static EngineBenchmarkResult Run(TextWriter output, EngineBenchmarkOptions options, Func<int, ICollectiveBackend>? backendForRank)
    {
        TorchRuntime.EnsureLoaded();
        if (options.Ranks < 1) throw new ArgumentException($"--ranks must be at least 1, got {options.Ranks}");
        if (options.Steps < 1) throw new ArgumentException($"--steps must be at least 1, got {options.Steps}");
        if (options.Ranks > 1 && backendForRank is null) throw new ArgumentException($"--ranks {options.Ranks} needs a collective backend");
        var onGpu = options.Device switch
        {
            "cuda" when !cuda.is_available() => throw new InvalidOperationException("--device cuda: CUDA is not available here (run `forge doctor`); use --device cpu"),
            "cuda" when cuda.device_count() < options.Ranks => throw new InvalidOperationException($"--ranks {options.Ranks} needs as many CUDA devices; {cuda.device_count()} visible"),
            "cuda" => true,
            "cpu" => false,
            _ => throw new ArgumentException($"--device '{options.Device}' is unknown; expected cuda or cpu"),
        };

        double? bare = null;
        if (options.CompareWithModelStep)
        {
            output.WriteLine("== bare model step (one device, no engine)");
            bare = ModelStepBenchmark.Run(output, new ModelBenchmarkOptions
            {
                Preset = options.Preset, Steps = options.Steps, Warmup = options.Warmup, DType = options.DType, Device = options.Device,
            }).SecondsPerStep;
        }

        var preset = BenchmarkPresets.Load(options.Preset);
        var textLength = preset.Vlm.MaxTextLen;
        var config = preset with
        {
            Train = preset.Train with { MixedPrecision = options.DType, GlobalBatchSize = preset.Train.BatchSize * options.Ranks, MaxSteps = options.Warmup + 2 * options.Steps },
            Scheduler = new SchedulerConfig { Name = SchedulerConfig.Constant, WarmupSteps = 0 },
        };
        output.WriteLine($"== engine step: {options.Ranks} rank(s), batch {config.Train.BatchSize} x text {textLength} per rank, " +
                         $"collectives: {(backendForRank is null ? "none" : backendForRank(0).Name)}");

        var groupId = backendForRank?.Invoke(0).CreateGroupId();
        var ranks = Enumerable.Range(0, options.Ranks).Select(rank => Task.Factory.StartNew(
            () => RunRank(rank, options, config, textLength, onGpu, groupId, backendForRank),
            TaskCreationOptions.LongRunning)).ToArray();
        Task.WaitAll(ranks);
        var (phased, unsynchronised, kernel) = ranks[0].Result;

        var result = new EngineBenchmarkResult(options.Preset, options.Ranks, Mean(phased), Median(unsynchronised), bare, kernel);
        Report(output, result);
        return result;
    }

    private static (List<StepTimings> Phased, List<double> Unsynchronised, string Kernel) RunRank(int rank, EngineBenchmarkOptions options, JobConfig config, int textLength, bool onGpu,
        byte[]? groupId, Func<int, ICollectiveBackend>? backendForRank)
    {
        var device = onGpu ? new Device(DeviceType.CUDA, rank) : CPU;
        var dtype = MixedPrecision.ComputeDType(config.Train, device);
        using var collectives = groupId is null
            ? new SingleRankCollectives()
            : backendForRank!(rank).Join(groupId, rank, options.Ranks, TimeSpan.FromMinutes(5));
        using var data = new RepeatedBatch(config, textLength);
        using var engine = new ShardedRankEngine(() => VlmRegistry.Build(config, device, dtype), data, collectives, config, device);
        var phased = new List<StepTimings>();
        var unsynchronised = new List<double>();
        for (var step = 0; step < options.Warmup + 2 * options.Steps; step++)
        {
            engine.SynchronisePhases = step < options.Warmup + options.Steps;
            var result = engine.RunStep(step);
            if (step < options.Warmup)
            {
                if (rank == 0) Console.Out.WriteLine($"  warmup step {step + 1}: {result.RankTimings.Total * 1000:F1} ms");
            }
            else if (engine.SynchronisePhases) phased.Add(result.RankTimings);
            else unsynchronised.Add(result.RankTimings.Total);
        }
        return (phased, unsynchronised, engine.OptimizerKernel);
    }

    private static StepTimings Mean(List<StepTimings> t) => new(
        t.Average(x => x.Data), t.Average(x => x.Compute), t.Average(x => x.ReduceScatter),
        t.Average(x => x.Optimizer), t.Average(x => x.AllGather), t.Average(x => x.Total));

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static void Report(TextWriter output, EngineBenchmarkResult r)
    {
        var m = r.Mean;
        output.WriteLine($"AdamW            : {r.OptimizerKernel}");
        output.WriteLine("data             : pre-built host batches, handed out as PrefetchingBatchSource does (decoded ahead on threads)");
        output.WriteLine($"engine step, rank 0 of {r.Ranks} (mean of measured steps, synchronised at phase boundaries for this breakdown):");
        foreach (var (name, seconds) in new[]
                 {
                     ("data", m.Data), ("compute", m.Compute), ("reduce-scatter", m.ReduceScatter),
                     ("optimizer", m.Optimizer), ("all-gather", m.AllGather),
                 })
            output.WriteLine($"  {name,-15}: {seconds * 1000,9:F2} ms  {seconds / m.Total * 100,5:F1}%");
        output.WriteLine($"  {"total",-15}: {m.Total * 1000,9:F2} ms");
        output.WriteLine($"engine step      : {r.MedianTotal * 1000:F2} ms (median, no phase synchronisation)");
        if (r.BareModelStep is { } bare)
            output.WriteLine($"bare model step  : {bare * 1000:F2} ms (median) -> engine overhead {r.Overhead * 100:+0.0;-0.0}%");
    }

    /// <summary>
    /// The same random micro-batch every step, built once on the host: like PrefetchingBatchSource's
    /// output, it is ready when the step asks, so the benchmark measures the step, not decoding. Each call
    /// hands out aliases, since the engine disposes what it is given.
    /// </summary>
    private sealed class RepeatedBatch : IBatchSource
    {
        private readonly ImageTextBatch _batch;

        public RepeatedBatch(JobConfig config, int textLength)
        {
            GlobalBatchSize = config.Train.GlobalBatchSize;
            var b = config.Train.BatchSize;
            using var generator = new Generator(1234);
            var ids = randint(3, config.Model.VocabSize, [b, textLength], generator: generator);
            var labels = ids.clone();
            labels[TensorIndex.Colon, 0] = tensor(CaptionEncoder.IgnoreIndex);
            var size = config.VisionEncoder.IsBuiltFromShapeKeys ? config.VisionEncoder.ImageSize : 16;
            _batch = new ImageTextBatch { Images = rand([b, 3, size, size], generator: generator), InputIds = ids, Labels = labels, SampleIndices = new long[b] };
        }

        public int GlobalBatchSize { get; }

        public IReadOnlyList<ImageTextBatch> MicroBatches(long step, int worldSize, int rank, int microBatchSize) =>
        [
            new ImageTextBatch
            {
                Images = _batch.Images.alias(),
                InputIds = _batch.InputIds.alias(),
                Labels = _batch.Labels.alias(),
                SampleIndices = _batch.SampleIndices,
            },
        ];

        public DataCursor CursorAfter(long completedSteps) => new(0, completedSteps * GlobalBatchSize, completedSteps * GlobalBatchSize);

        public void Dispose() => _batch.Dispose();
    }
}
