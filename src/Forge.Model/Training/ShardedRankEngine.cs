using Forge.Model.Config;
using Forge.Model.Data;
using Forge.Model.Text;
using Forge.Model.Distributed;
using Forge.Model.Evaluation;
using Forge.Model.Modeling;
using Forge.Model.Modeling.Moe;
using Forge.Model.Optim;
using Forge.Model.Pretrained;
using TorchSharp;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Training;

/// <summary>
/// One data-parallel rank with a sharded optimizer (ZeRO-1 style): the full compute replica, whose
/// trainable parameters and gradients are views of two flat buffers, and the fp32 master weights and
/// AdamW moments of this rank's contiguous shard. A step is
/// <list type="number">
/// <item>all-reduce of the target-token count, so each micro-batch's summed loss is divided by the
///   GLOBAL count and any world size produces the one-rank gradient;</item>
/// <item>forward and backward over the rank's micro-batches, accumulating into the flat gradient
///   (in fp32 when compute is bf16, so accumulation does not round in bf16);</item>
/// <item>reduce-scatter (fp32) to the shard owners; all-reduce of the shard's squared norm (and the
///   loss, in the same message) for the global gradient norm; AdamW on the shard
///   (<see cref="ShardedAdamW"/>) with the clip folded into the update as its gradient divisor;</item>
/// <item>the shard cast to the compute dtype in place inside the flat parameter buffer and an in-place
///   all-gather, which updates every parameter view at once.</item>
/// </list>
/// On a GPU the buffers live on the device; the only device-to-host copies are scalars: the loss with
/// the gradient norm in one read at the end of the step, and, in a world of more than one, the global
/// token count (a world of one counts its host batch). The clip never waits for the host.
/// With a held-out evaluator, every train.eval_interval-th step and the last (train.max_steps) end with
/// the held-out loss of the updated weights: each rank scores its share of the held-out rows and one
/// all-reduce of (loss sum, tokens) gives every rank the global mean.
/// The engine owns the model it builds; the batch source, collectives and evaluator stay the caller's.
/// All calls must come from one thread (torch's grad mode and dispose scopes are per thread).
/// A step that throws (a <see cref="CollectiveException"/> when a peer is lost) leaves the shard
/// half-updated on some ranks: discard the engine and build the next world from a checkpoint.
/// </summary>
public sealed class ShardedRankEngine : IRankEngine
{
    private readonly ITrainableModel _model;
    private readonly IBatchSource _data;
    private readonly ICollectives _collectives;
    private readonly JobConfig _config;
    private readonly Device _device;
    private readonly FlatParameterLayout _layout;
    private readonly LrSchedule _schedule;
    private readonly ShardedAdamW _optimizer;
    private readonly long _shardStart;
    private ShardSnapshotBuffers? _snapshotBuffers;
    private ShardSnapshotBuffers? _replicaBuffers;
    private readonly Tensor _parameters;
    private readonly Tensor _gradients;
    private readonly Tensor _gradients32;
    private readonly Tensor _gradientShard;
    private readonly FreezeStages _freezeStages;
    private int _appliedStage;
    private IReadOnlyList<ShardSegmentPlan>? _stageSegments;
    private readonly HeldOutEvaluator? _heldOut;
    private readonly HeldOutEvaluator? _unseenArt;

    /// <param name="modelFactory">
    /// Builds the model, on any device and in any dtype (the engine moves it to <paramref name="device"/> and casts
    /// it to the compute dtype; building in fp32 keeps the initial master weights unrounded, while a model that
    /// casts its inputs to a dtype fixed at build time must be built in the compute dtype, as
    /// <see cref="ForVisionLanguageModel"/> does). Every rank starts from rank 0's weights, frozen ones
    /// included, so builds need not be reproducible across ranks or threads.
    /// </param>
    /// <param name="device">Where the replica and the buffers live (default CPU).</param>
    /// <param name="firstStep">The first step this engine will run (its freeze stage applies first).</param>
    /// <param name="computeDtype">Overrides the dtype train.mixed_precision picks (e.g. bf16 on CPU, to check the bf16 path without a GPU).</param>
    /// <param name="heldOut">Scores the held-out set (unseen names) on eval steps; null: no data.eval_manifest.</param>
    /// <param name="unseenArt">Scores the unseen-art set on eval steps; null: no data.unseen_art_manifest. With neither, no step evaluates.</param>
    public ShardedRankEngine(
        Func<ITrainableModel> modelFactory,
        IBatchSource data,
        ICollectives collectives,
        JobConfig config,
        Device? device = null,
        long firstStep = 0,
        ScalarType? computeDtype = null,
        HeldOutEvaluator? heldOut = null,
        HeldOutEvaluator? unseenArt = null)
    {
        _data = data;
        _collectives = collectives;
        _config = config;
        _heldOut = heldOut;
        _unseenArt = unseenArt;
        _device = device ?? CPU;
        ComputeDtype = computeDtype ?? MixedPrecision.ComputeDType(config.Train, _device);
        if (config.Train.BatchSize < 1) throw new ArgumentException($"train.batch_size = {config.Train.BatchSize}: expected at least 1");
        if (config.Train.GradClipNorm < 0) throw new ArgumentException($"train.grad_clip_norm = {config.Train.GradClipNorm}: expected 0 (off) or more");
        _schedule = new LrSchedule(config.Scheduler, config.Optimizer.Lr, config.Train.MaxSteps);

        _model = modelFactory();
        try
        {
            var module = _model.Module;
            // Every parameter that trains in any freeze stage is in the layout, so a stage change
            // only changes which parts of the shard the optimizer updates (see FreezeStages).
            _freezeStages = FreezeStages.Of(_model, firstStep);
            module.to(_device);
            _layout = FlatParameterLayout.For(module, collectives.WorldSize, _freezeStages.LayoutNames);
            (_shardStart, var shardLength) = _layout.ShardOf(collectives.Rank);

            // The fp32 values become the master shard before any cast, so bf16 compute never rounds them.
            var initial = _layout.Gather(module, ScalarType.Float32, _device);
            collectives.Broadcast(initial, root: 0);
            _optimizer = new ShardedAdamW(initial.narrow(0, _shardStart, shardLength).clone(), config.Optimizer);

            if (ComputeDtype == ScalarType.Float32)
            {
                _parameters = initial;
            }
            else
            {
                module.to(ComputeDtype);
                _parameters = initial.to(ComputeDtype);
                initial.Dispose();
            }
            _gradients = zeros_like(_parameters);
            _gradients32 = ComputeDtype == ScalarType.Float32 ? _gradients : zeros(_layout.PaddedNumel, dtype: ScalarType.Float32, device: _device);
            // In a world of one the shard is the whole flat gradient: no reduce-scatter copy at all.
            _gradientShard = WorldSize == 1 ? _gradients32 : zeros(shardLength, dtype: ScalarType.Float32, device: _device);
            _layout.Bind(module, _parameters, _gradients);
            EnterFreezeStage(_freezeStages.StageAt(firstStep), firstStep);
            BroadcastFrozenParameters(module);
        }
        catch
        {
            _model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The production engine of one rank: the configured vision-language model, built on the rank's device
    /// directly in the compute dtype (the model keeps its dtype for its inputs, so it must not be cast
    /// afterwards), resuming from <paramref name="restored"/> (this rank's resharded slice of the last
    /// committed checkpoint) when given. A collective: every rank of the group calls it.
    /// </summary>
    public static ShardedRankEngine ForVisionLanguageModel(
        JobConfig config, IBatchSource data, ICollectives collectives, Device device, OptimizerShard? restored = null,
        HeldOutEvaluator? heldOut = null, HeldOutEvaluator? unseenArt = null)
    {
        var dtype = MixedPrecision.ComputeDType(config.Train, device);
        var engine = new ShardedRankEngine(() => BuildStartingModel(config, device, dtype, fresh: restored is null), data, collectives, config, device,
            firstStep: restored?.Step ?? 0, heldOut: heldOut, unseenArt: unseenArt);
        try
        {
            if (restored is not null) engine.LoadShard([restored]);
            return engine;
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The configured model, with checkpoint.load_path's weights over its init when the run starts
    /// fresh (a resume's shard replaces every trained weight anyway).
    /// </summary>
    public static VisionLanguageModel BuildStartingModel(JobConfig config, Device device, ScalarType dtype, bool fresh)
    {
        var model = VlmRegistry.Build(config, device, dtype);
        if (!fresh || string.IsNullOrEmpty(config.Checkpoint.LoadPath)) return model;
        try
        {
            PretrainedWeights.Load(model, config.Checkpoint.LoadPath, config.Checkpoint.ExcludeFromLoading);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public int Rank => _collectives.Rank;
    public int WorldSize => _collectives.WorldSize;
    public FlatLayoutInfo Layout => _layout.Info;
    public ScalarType ComputeDtype { get; }

    /// <summary>The compute replica (its trainable parameters are views of the flat parameter buffer).</summary>
    public ITrainableModel Model => _model;

    /// <summary>Which AdamW kernel updates the shard (see <see cref="ShardedAdamW.KernelName"/>).</summary>
    public string OptimizerKernel => _optimizer.KernelName;

    /// <summary>
    /// Waits for the device at each phase boundary so <see cref="StepTimings"/> splits the step honestly
    /// (default). Off, the device runs the step without those waits; the phase figures then count host
    /// time only and just the total is wall time (which is how the benchmark compares against the bare step).
    /// </summary>
    public bool SynchronisePhases { get; set; } = true;

    /// <summary>This rank's fp32 master shard (read it, do not keep it across steps).</summary>
    public Tensor MasterShard => _optimizer.Master;

    public StepResult RunStep(long step)
    {
        using var scope = NewDisposeScope();
        var clock = new PhaseClock(_device, SynchronisePhases);
        var stage = _freezeStages.StageAt(step);
        if (stage != _appliedStage) EnterFreezeStage(stage, step);

        var microBatches = _data.MicroBatches(step, WorldSize, Rank, _config.Train.BatchSize);
        try
        {
            var samples = microBatches.Sum(b => b.Size);
            var (globalTokens, globalSamples) = GlobalTargetTokens(microBatches, step);
            var dataSeconds = clock.Lap();

            var (lossSum, routing) = Accumulate(microBatches, globalTokens, globalSamples);
            var computeSeconds = clock.Lap();

            if (WorldSize > 1) _collectives.ReduceScatter(_gradients32, _gradientShard);
            var reduceScatterSeconds = clock.Lap();

            var lr = _schedule.At(step);
            var stats = ClipAndUpdate(lossSum, routing, lr, step);
            var optimizerSeconds = clock.Lap();

            PublishShard();
            // The step's one host read comes last: it waits for the update and the cast too, so the step needs
            // no other wait. It is charged to the all-gather phase, at the cost of one small copy.
            var host = stats.cpu().data<float>().ToArray();
            double loss = host[1] / globalTokens;
            var gradNorm = Math.Sqrt(host[0]);
            RoutingStats? routed = null;
            if (routing is not null)
            {
                routed = RoutingFrom(host.AsSpan(2), routing.Value.Layers);
                loss += _config.Model.MoeAuxLossWeight * routed.AuxLoss + _config.Model.MoeRouterZLossWeight * routed.ZLoss;
            }
            // Every rank reads the same all-reduced statistics, so every rank agrees that the step was skipped.
            var skipped = !double.IsFinite(loss) || !double.IsFinite(gradNorm);
            if (skipped) _optimizer.Unstep();
            var allGatherSeconds = clock.Lap();

            // Evaluation time has no phase of its own: it shows in Total, the step's wall time on this rank.
            var evalLoss = IsEvalStep(step) ? EvaluateHeldOut() : null;

            return new StepResult(step, WorldLoss: loss, WorldTokens: globalTokens, RankSamples: samples, WorldGradNorm: gradNorm, LearningRate: lr,
                new StepTimings(dataSeconds, computeSeconds, reduceScatterSeconds, optimizerSeconds, allGatherSeconds, clock.Total),
                evalLoss, skipped, routed);
        }
        finally
        {
            foreach (var batch in microBatches) batch.Dispose();
        }
    }

    public OptimizerShard SnapshotShard() => _optimizer.Snapshot(_shardStart);

    /// <summary>
    /// The checkpoint path's copy: into host buffers made on the first checkpoint and reused after
    /// (page-locked on CUDA), see <see cref="ShardSnapshotBuffers"/>.
    /// </summary>
    public ShardSnapshot CaptureShard()
    {
        _snapshotBuffers ??= new ShardSnapshotBuffers(_optimizer.Length, _optimizer.Master.device);
        return _snapshotBuffers.Capture(_optimizer, _shardStart);
    }

    /// <summary>The buddy replica's copy: two reused slots of their own, apart from the checkpoint's.</summary>
    public ShardSnapshot CaptureReplica()
    {
        _replicaBuffers ??= new ShardSnapshotBuffers(_optimizer.Length, _optimizer.Master.device, slots: 2);
        return _replicaBuffers.Capture(_optimizer, _shardStart);
    }

    /// <summary>
    /// Every train.eval_interval-th step (counting steps done, as checkpoints do) and the job's last
    /// step; never with train.eval_interval = 0. A function of the step alone, so every rank agrees
    /// on it and joins the evaluation's all-reduce.
    /// </summary>
    public bool IsEvalStep(long step)
    {
        var interval = _config.Train.EvalInterval;
        if ((_heldOut is null && _unseenArt is null) || interval <= 0) return false;
        return (step + 1) % interval == 0 || step + 1 == _config.Train.MaxSteps;
    }

    /// <summary>
    /// Each held-out test's mean token loss: this rank's share of its first train.eval_batches batches, then
    /// (loss sum, tokens) of both tests summed over ranks in one fp64 all-reduce, so each mean is the one-rank
    /// mean whatever the world size. Null for a test that is not configured or whose rows hold no target tokens.
    /// </summary>
    private HeldOutLosses EvaluateHeldOut()
    {
        var train = _config.Train;
        var names = _heldOut?.Evaluate(_model, _device, train.BatchSize, train.EvalBatches, WorldSize, Rank) ?? EvalResult.Empty;
        var art = _unseenArt?.Evaluate(_model, _device, train.BatchSize, train.EvalBatches, WorldSize, Rank) ?? EvalResult.Empty;
        using var scope = NewDisposeScope();
        var sums = tensor(new[] { names.LossSum, names.Tokens, art.LossSum, art.Tokens }, dtype: ScalarType.Float64, device: _device);
        _collectives.AllReduceSum(sums);
        var global = sums.cpu().data<double>().ToArray();
        return new HeldOutLosses(
            global[1] > 0 ? global[0] / global[1] : null,
            global[3] > 0 ? global[2] / global[3] : null);
    }

    /// <summary>
    /// Restores this rank's shard from any set of saved shards that covers its range (any old world
    /// size), then all-gathers so the compute replica holds the restored weights. A collective:
    /// every rank of the group must call it.
    /// </summary>
    public void LoadShard(IReadOnlyList<OptimizerShard> sources)
    {
        _optimizer.Load(Resharding.Assemble(sources, _shardStart, _optimizer.Length, _layout.Numel));
        PublishShard();
    }

    /// <summary>
    /// Casts the master shard into this rank's slice of the flat parameter buffer, then all-gathers in
    /// place (the input is the output's own chunk), which updates every parameter view of every rank.
    /// In a world of one the slice is the whole buffer: the all-gather is that one cast, with no intermediate.
    /// </summary>
    private void PublishShard()
    {
        using var _ = no_grad();
        var own = _parameters.narrow(0, _shardStart, _optimizer.Length);
        own.copy_(_optimizer.Master);
        if (WorldSize > 1) _collectives.AllGather(own, _parameters);
    }

    public void Dispose()
    {
        _model.Dispose();
        _optimizer.Dispose();
        _snapshotBuffers?.Dispose();
        _replicaBuffers?.Dispose();
        if (!ReferenceEquals(_gradientShard, _gradients32)) _gradientShard.Dispose();
        if (!ReferenceEquals(_gradients32, _gradients)) _gradients32.Dispose();
        _gradients.Dispose();
        _parameters.Dispose();
    }

    /// <summary>
    /// Parameters that never train are outside the flat layout, yet every replica must compute with the
    /// same ones: ranks that share a process build their models concurrently, racing on torch's global RNG.
    /// </summary>
    private void BroadcastFrozenParameters(nn.Module module)
    {
        using var _ = no_grad();
        foreach (var (name, parameter) in module.named_parameters())
            if (!_layout.Contains(name)) _collectives.Broadcast(parameter, root: 0);
    }

    /// <summary>Target tokens and samples of the global batch (one all-reduce of both in a world of more than one).</summary>
    private (long Tokens, long Samples) GlobalTargetTokens(IReadOnlyList<ImageTextBatch> microBatches, long step)
    {
        var global = microBatches.Sum(b => b.TargetTokens());
        long samples = microBatches.Sum(b => b.Size);
        if (WorldSize > 1)
        {
            var counts = tensor(new[] { global, samples }, dtype: ScalarType.Int64, device: _device);
            _collectives.AllReduceSum(counts);
            var host = counts.cpu().data<long>().ToArray();
            (global, samples) = (host[0], host[1]);
        }
        if (global <= 0)
            throw new InvalidOperationException($"step {step}: the global batch has no target tokens (every label is {CaptionEncoder.IgnoreIndex})");
        return (global, samples);
    }

    /// <summary>
    /// Forward and backward over the micro-batches; returns the summed loss as a device scalar. In bf16
    /// each micro-batch's gradient moves into the fp32 accumulator (copied for the first, added after)
    /// and the bf16 buffer is cleared only if another micro-batch follows: one kernel per flat pass.
    /// With MoE layers each micro-batch's objective also has model.moe_aux_loss_weight times its balance
    /// loss and model.moe_router_z_loss_weight times its z-loss, weighted by the micro-batch's share of
    /// the global batch's samples: KempnerForge adds them to every micro-batch's mean loss and averages
    /// over micro-batches and ranks, which this equals for equal-sized micro-batches, whatever the world size.
    /// The routing figures come back as device tensors: [aux, z] weighted the same way, and the
    /// (layers, experts) tokens received, summed.
    /// </summary>
    private (Tensor LossSum, (Tensor Losses, Tensor Received, int Layers)? Routing) Accumulate(
        IReadOnlyList<ImageTextBatch> microBatches, long globalTokens, long globalSamples)
    {
        var moe = _model.HasMoeLayers;
        Tensor? routingLosses = null, received = null;
        var moeLayers = 0;
        var accumulateInFp32 = !ReferenceEquals(_gradients32, _gradients);
        using (no_grad())
        {
            _gradients.zero_();
            if (accumulateInFp32 && microBatches.Count == 0) _gradients32.zero_();
        }
        var lossSum = zeros(1, dtype: ScalarType.Float32, device: _device);
        for (var i = 0; i < microBatches.Count; i++)
        {
            var hostBatch = microBatches[i];
            var batch = _device.type == DeviceType.CPU ? hostBatch : hostBatch.To(_device);
            try
            {
                using var routing = moe ? new RoutingLog() : null;
                var (loss, _) = routing is null ? _model.LossSum(batch) : _model.LossSum(batch, routing);
                var objective = loss.Over(globalTokens);
                Tensor? terms = null;
                if (routing is { Layers: > 0 })
                {
                    var share = batch.Size / (double)globalSamples;
                    terms = stack([routing.AuxLoss(), routing.ZLoss()]).Times(share);
                    var weighted = terms[0].Times(_config.Model.MoeAuxLossWeight).Plus(terms[1].Times(_config.Model.MoeRouterZLossWeight));
                    objective = objective.Plus(weighted.to(objective.dtype));
                }
                objective.backward();
                using var _ = no_grad();
                lossSum.PlusInPlace(loss.detach().to(ScalarType.Float32));
                if (terms is not null)
                {
                    var counts = routing!.Received();
                    moeLayers = routing.Layers;
                    routingLosses = routingLosses is null ? terms.detach() : routingLosses.Plus(terms.detach());
                    received = received is null ? counts : received.Plus(counts);
                }
                if (!accumulateInFp32) continue;
                if (i == 0) _gradients32.copy_(_gradients);
                else _gradients32.PlusInPlace(_gradients);
                if (i < microBatches.Count - 1) _gradients.zero_();
            }
            finally
            {
                if (!ReferenceEquals(batch, hostBatch)) batch.Dispose();
            }
        }
        if (!moe) return (lossSum, null);
        // A rank with no micro-batch this step still joins the all-reduce, with zeros of the same shape.
        var experts = _config.Model.NumExperts;
        var layers = Enumerable.Range(0, _config.Model.NLayers).Count(_config.Model.IsMoeLayer);
        if (moeLayers != 0 && moeLayers != layers)
            throw new InvalidOperationException($"{moeLayers} MoE layers reported, but model.n_layers and model.moe_frequency give {layers}");
        return (lossSum, (routingLosses ?? zeros(2, dtype: ScalarType.Float32, device: _device),
            received ?? zeros(layers, experts, dtype: ScalarType.Float32, device: _device), layers));
    }

    /// <summary>[aux, z, received (layers x experts)] as read back from the step's stats.</summary>
    private RoutingStats RoutingFrom(ReadOnlySpan<float> host, int layers)
    {
        var experts = _config.Model.NumExperts;
        var perLayer = new List<long[]>(layers);
        for (var l = 0; l < layers; l++)
        {
            var row = new long[experts];
            for (var e = 0; e < experts; e++) row[e] = (long)Math.Round(host[2 + l * experts + e]);
            perLayer.Add(row);
        }
        return new RoutingStats(host[0], host[1], perLayer);
    }

    /// <summary>
    /// Global norm and AdamW with the clip as the update's gradient divisor (one pass for the norm, none
    /// for the clip). Returns the global [squared norm, loss sum] on the device, for the caller to read
    /// once the rest of the step is queued.
    /// </summary>
    private Tensor ClipAndUpdate(Tensor lossSum, (Tensor Losses, Tensor Received, int Layers)? routing, double lr, long step)
    {
        using var _ = no_grad();
        // norm() reduces without a shard-sized temporary (square() would allocate one).
        Tensor[] parts = routing is { } r
            ? [_gradientShard.norm().square().reshape(1), lossSum, r.Losses.to(ScalarType.Float32), r.Received.reshape(-1)]
            : [_gradientShard.norm().square().reshape(1), lossSum];
        // The routing figures ride in the same all-reduce as the norm and the loss: no extra message.
        var stats = cat(parts);
        if (WorldSize > 1) _collectives.AllReduceSum(stats);
        // Frozen parts of the shard have zero gradient, so the norm is the trained parameters' norm.
        var segments = _stageSegments?.Select(p => new OptimizerSegment(p.Offset, p.Length, step + 1 - p.Lag)).ToList();
        // A diverged step (non-finite loss or norm) must not touch the weights or moments. The flag stays on the
        // device, where the fused kernel reads it, so the healthy path still needs no host read before the update.
        var diverged = stats.isfinite().all().logical_not().to(ScalarType.Float32).reshape(1);
        _optimizer.Update(_gradientShard, lr, ShardedAdamW.ClipGradScale(stats[0].sqrt(), _config.Train.GradClipNorm), segments, diverged);
        return stats;
    }

    /// <summary>
    /// Applies the freeze flags of <paramref name="stage"/> (entered at <paramref name="step"/>) and works out
    /// which parts of this rank's shard the optimizer updates in it. Parameters frozen now keep their
    /// gradient views; autograd simply stops writing them, and the zeroed flat gradient stays zero there.
    /// </summary>
    private void EnterFreezeStage(int stage, long step)
    {
        _model.ApplyFreezeFor(step);
        var strays = _model.Module.named_parameters().Where(p => p.parameter.requires_grad && !_layout.Contains(p.name)).Select(p => p.name).ToList();
        if (strays.Count > 0)
            throw new InvalidOperationException($"step {step}: parameters trainable outside the flat layout: {string.Join(", ", strays)}");
        _stageSegments = _freezeStages.Segments(stage, _layout.Parameters, _shardStart, _optimizer.Length);
        _appliedStage = stage;
    }
}
