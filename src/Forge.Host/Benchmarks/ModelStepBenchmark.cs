using Forge.Model.Optim;
using System.Diagnostics;
using Forge.Model.Config;
using Forge.Model.Data;
using Forge.Model.Modeling;
using Forge.Model.Modeling.Moe;
using Forge.Model.Runtime;
using Forge.Model.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Host.Benchmarks;

/// <summary>
/// One full training step of the VLM as the trainer runs it on one device: forward with the loss,
/// backward, global grad-norm clipping and AdamW over fp32 master weights. Inputs are random
/// token ids and the random vision stub, so the figure is the language side's compute.
/// </summary>
public static class ModelStepBenchmark
{
    public static ModelBenchmarkResult Run(TextWriter output, ModelBenchmarkOptions options)
    {
        TorchRuntime.EnsureLoaded();
        var config = BenchmarkPresets.Load(options.Preset);
        var device = options.Device switch
        {
            "cuda" when !cuda.is_available() => throw new InvalidOperationException("--device cuda: CUDA is not available here (run `forge doctor`); use --device cpu"),
            "cuda" => CUDA,
            "cpu" => CPU,
            _ => throw new ArgumentException($"--device '{options.Device}' is unknown; expected cuda or cpu"),
        };
        var memory = AllocatorMemory(output, device);
        if (!options.Levers) return Measure(output, options, config, device, memory, StepKernels.Current);
        if (device.type == DeviceType.CUDA)
        {
            CheckAdamWKernel(output, device, config.Optimizer);
            CheckActivationKernels(output, device);
        }

        // Each lever alone against the baseline with none, then all together; the same steps each time.
        var configurations = new List<StepKernels> { StepKernels.None };
        configurations.AddRange(StepKernels.Names.Select(StepKernels.Only));
        configurations.Add(StepKernels.All);
        var results = new List<ModelBenchmarkResult>();
        var previous = StepKernels.Current;
        try
        {
            foreach (var levers in configurations)
            {
                output.WriteLine($"== levers: {levers}");
                StepKernels.Current = levers;
                results.Add(Measure(output, options, config, device, memory, levers));
            }
        }
        finally
        {
            StepKernels.Current = previous;
        }
        ReportLevers(output, results);
        return results[^1];
    }

    private static ModelBenchmarkResult Measure(TextWriter output, ModelBenchmarkOptions options, JobConfig config, Device device,
        CudaAllocatorStats? memory, StepKernels levers)
    {
        var textLength = config.Vlm.MaxTextLen;
        var train = config.Train with { MixedPrecision = options.DType };
        var dtype = MixedPrecision.ComputeDType(train, device);
        var onGpu = device.type == DeviceType.CUDA;
        if (options.DType == TrainConfig.Bf16 && !onGpu) output.WriteLine("note: CPU runs compute in fp32 (bf16 applies on CUDA only)");

        // The peak counts from here, as torch.cuda.max_memory_allocated after a reset: model, optimizer state,
        // steps. Tensors an earlier configuration left to finalizers are collected first; what is still
        // held then is not this configuration's and is subtracted.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var heldBefore = memory?.AllocatedBytes ?? 0;
        if (heldBefore > 64L << 20) output.WriteLine($"note: {Gib(heldBefore):F2} GiB still allocated before this configuration, left out of its peak");
        memory?.ResetPeak();
        using var model = VlmRegistry.Build(config, device, dtype);
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
        using var optimizer = new MasterWeightAdamW(trainable, config.Optimizer, config.Train.GradClipNorm);
        var flops = StepFlops(config, textLength, config.Train.BatchSize);

        var m = config.Model;
        var moe = m.IsMoe ? $", MoE on {Enumerable.Range(0, m.NLayers).Count(m.IsMoeLayer)} layers (top-{m.MoeTopK} of {m.NumExperts}{(m.MoeSharedExperts > 0 ? " + shared" : "")}, capacity {m.MoeCapacityFactor})" : "";
        output.WriteLine($"preset {options.Preset}: {config.Vlm.Arch}, dim {m.Dim}, {m.NLayers} layers, {m.NHeads} heads / {m.ResolvedKvHeads} kv{moe}, " +
                         $"{model.transformer.cross_attention_layers.Count} CA blocks, vocab {config.Model.VocabSize}, " +
                         $"{config.VisionEncoder.NumTokens} image tokens x {config.VisionEncoder.FeatureDim}, text {textLength}, batch {config.Train.BatchSize}");
        output.WriteLine($"device {DeviceName(device)}, compute {dtype}, fp32 master weights, {optimizer.Numel / 1e6:F1} M trainable parameters");
        output.WriteLine(AtenKernels.Enabled
            ? "rms_norm: fused, through TorchScript (FORGE_ATEN_KERNELS=off for composed ops)"
            : "rms_norm: composed ops (FORGE_ATEN_KERNELS=off)");
        output.WriteLine($"loss    : {(levers.LossKernel ? "cross-entropy from the hidden states, bf16 logits scored into their gradient by one kernel" : levers.ChunkedLoss ? $"chunked cross-entropy from the hidden states ({CaptionLoss.DefaultChunkRows} rows a chunk)" : "cross-entropy over the full fp32 logits")}");
        output.WriteLine($"clip    : global norm over the {(levers.Bf16ClipNorm || levers.AdamWKernel ? "compute-dtype gradient (fp32 accumulation)" : "gradient's fp32 copy")}");
        output.WriteLine($"AdamW   : {optimizer.KernelName}");
        output.WriteLine($"GQA     : {(levers.SdpaGqa ? "SDPA with enable_gqa (kv heads not repeated)" : "kv heads repeated into copies for SDPA")}; " +
                         $"RoPE: {(levers.RopeKernel ? "NVRTC kernel each way" : levers.JitFusion ? "TorchScript (libtorch's fuser)" : "composed ops")}; " +
                         $"SwiGLU gate: {(levers.SwiGluKernel ? "NVRTC kernel each way" : levers.JitFusion ? "TorchScript (libtorch's fuser)" : "composed ops")}");
        output.WriteLine($"residual: {(levers.AddNormKernel ? "each add fused with the RMSNorm after it, one NVRTC kernel each way" : "adds apart from the norms")}");

        using var batch = RandomBatch(config, textLength, device);
        var phases = new double[4];
        // With --breakdown the allocator's peak restarts at every measured step, so the phase in which
        // a step reaches its peak shows; the run's peak is kept across the restarts.
        var phasePeaks = new long[4];
        var runPeak = 0L;
        var trackPhases = options.Breakdown && memory is not null;
        var times = new List<double>();
        var loss = double.NaN;
        for (var step = 0; step < options.Warmup + options.Steps; step++)
        {
            var measured = step >= options.Warmup;
            if (trackPhases && measured)
            {
                runPeak = Math.Max(runPeak, memory!.PeakAllocatedBytes);
                memory.ResetPeak();
            }
            var t = Stopwatch.StartNew();
            var marks = new double[4];
            double gradNorm;
            using (var scope = NewDisposeScope())
            {
                optimizer.ZeroGrad();
                // An MoE step's objective has the routing losses too, as in training.
                using var routing = model.HasMoeLayers ? new RoutingLog() : null;
                var (sum, tokens) = model.LossSum(batch, routing);
                var mean = sum.Over(tokens);
                if (routing is { Layers: > 0 })
                    mean = mean.Plus(routing.AuxLoss().Times(config.Model.MoeAuxLossWeight)).Plus(routing.ZLoss().Times(config.Model.MoeRouterZLossWeight));
                if (options.Breakdown) marks[0] = Mark(device, t);
                if (trackPhases && measured) phasePeaks[0] = Math.Max(phasePeaks[0], memory!.PeakAllocatedBytes);
                mean.backward();
                if (options.Breakdown) marks[1] = Mark(device, t);
                if (trackPhases && measured) phasePeaks[1] = Math.Max(phasePeaks[1], memory!.PeakAllocatedBytes);
                gradNorm = optimizer.ClipGradNorm();
                if (options.Breakdown) marks[2] = Mark(device, t);
                if (trackPhases && measured) phasePeaks[2] = Math.Max(phasePeaks[2], memory!.PeakAllocatedBytes);
                optimizer.Apply(config.Optimizer.Lr);
                marks[3] = Mark(device, t);
                if (trackPhases && measured) phasePeaks[3] = Math.Max(phasePeaks[3], memory!.PeakAllocatedBytes);
                // Read after the step's clock stopped: the sync costs nothing measured.
                loss = mean.item<float>();
            }
            if (!measured)
            {
                output.WriteLine($"  warmup step {step + 1}: {marks[3] * 1000:F1} ms, loss {loss:F4}, grad norm {gradNorm:F3}");
                continue;
            }
            times.Add(marks[3]);
            if (options.Breakdown)
                for (var i = 0; i < 4; i++) phases[i] += marks[i] - (i == 0 ? 0 : marks[i - 1]);
        }

        var secondsPerStep = Median(times);
        var tokensPerSecond = (double)config.Train.BatchSize * textLength / secondsPerStep;
        var mfu = onGpu ? flops / secondsPerStep / (options.PeakTflops * 1e12) : double.NaN;
        StepPhaseTimes? phaseTimes = options.Breakdown
            ? new StepPhaseTimes(phases[0] / times.Count, phases[1] / times.Count, phases[2] / times.Count, phases[3] / times.Count)
            : null;
        var result = new ModelBenchmarkResult(options.Preset, DeviceName(device), dtype, optimizer.Numel, secondsPerStep,
            tokensPerSecond, flops, mfu, memory is null ? 0 : Math.Max(runPeak, memory.PeakAllocatedBytes) - heldBefore, levers.ToString(), loss, phaseTimes);
        Report(output, result, times, options);
        if (trackPhases)
            output.WriteLine($"peak allocated within a step, by the phase that reached it: forward+loss {Gib(phasePeaks[0] - heldBefore):F2}, backward {Gib(phasePeaks[1] - heldBefore):F2}, " +
                             $"clip {Gib(phasePeaks[2] - heldBefore):F2}, optimizer {Gib(phasePeaks[3] - heldBefore):F2} GiB");
        return result;
    }

    /// <summary>
    /// Model FLOPs of one training step (forward + backward = 3x forward), counting matmuls only:
    /// 6 x (matmul parameters a token passes through) x tokens, for text tokens (text layers, CA
    /// q/o and MLPs, output head) and image tokens (CA k/v, adapter; for joint_decoder and mot also
    /// the decoder layers, whose sequence they share), plus attention score and value products:
    /// causal self-attention 6 B S^2 d per layer (half of the full square; S = text, or image + text),
    /// cross attention 12 B T N d per CA block. An MoE layer counts the weights a token is routed
    /// through (top-k experts, the shared expert, the router), as if no token were dropped.
    /// Embedding lookups, norms, softmax and elementwise work are not counted; the frozen stub
    /// encoder does no matmuls.
    /// </summary>
    public static double StepFlops(JobConfig config, int textLength, int batch)
    {
        var m = config.Model;
        var (textParams, imageParams) = MatmulParameters(config);
        double textTokens = (double)batch * textLength;
        double imageTokens = (double)batch * config.VisionEncoder.NumTokens;
        var crossAttention = config.Vlm.Arch == "cross_attention";
        var caBlocks = crossAttention ? m.NLayers / config.Vlm.CrossAttentionEveryNLayers : 0;
        double sequence = crossAttention ? textLength : textLength + config.VisionEncoder.NumTokens;
        var dense = 6 * (textParams * textTokens + imageParams * imageTokens);
        var selfAttention = m.NLayers * 6.0 * batch * sequence * sequence * m.NHeads * m.HeadDim;
        var crossAttentionFlops = caBlocks * 12.0 * batch * textLength * config.VisionEncoder.NumTokens * (double)m.Dim;
        return dense + selfAttention + crossAttentionFlops;
    }

    /// <summary>
    /// Matmul weights each text token passes through (text layers, CA q/o and MLPs, output head) and
    /// each image token passes through (CA k/v, adapter; the decoder layers for joint_decoder and mot,
    /// where an MoT token uses its own modality's copy), with the stub encoder.
    /// </summary>
    public static (double PerTextToken, double PerImageToken) MatmulParameters(JobConfig config)
    {
        var m = config.Model;
        double dim = m.Dim, ffn = m.ResolvedFfnHiddenDim, hd = m.HeadDim, expertFfn = m.ExpertFfnHiddenDim;
        var crossAttention = config.Vlm.Arch == "cross_attention";
        var (caHeads, caKv) = config.Vlm.ResolvedCrossAttentionHeads(m.NHeads);
        var caBlocks = crossAttention ? m.NLayers / config.Vlm.CrossAttentionEveryNLayers : 0;
        var caHeadDim = dim / caHeads;
        var attention = dim * m.NHeads * hd * 2 + dim * m.ResolvedKvHeads * hd * 2;
        var active = (double)m.MoeTopK + (m.MoeSharedExperts > 0 ? 1 : 0);
        var layers = Enumerable.Range(0, m.NLayers)
            .Sum(i => attention + (m.IsMoeLayer(i) ? active * 3 * dim * expertFfn + dim * m.NumExperts : 3 * dim * ffn));
        var perCaText = dim * caHeads * caHeadDim * 2 + 3 * dim * ffn;
        var perCaImage = 2 * dim * caKv * caHeadDim;
        double feature = config.VisionEncoder.FeatureDim;
        double adapterHidden = config.Adapter.HiddenDim > 0 ? config.Adapter.HiddenDim : m.Dim;
        var adapter = config.Adapter.Type == AdapterConfig.Linear ? feature * dim : feature * adapterHidden + adapterHidden * dim;
        var imageLayers = crossAttention ? 0 : layers;
        return (layers + caBlocks * perCaText + dim * m.VocabSize, caBlocks * perCaImage + adapter + imageLayers);
    }

    private static ImageTextBatch RandomBatch(JobConfig config, int textLength, Device device)
    {
        var b = config.Train.BatchSize;
        var generator = new Generator(1234);
        var ids = randint(3, config.Model.VocabSize, [b, textLength], generator: generator);
        var labels = ids.clone();
        labels[TensorIndex.Colon, 0] = tensor(CaptionEncoder.IgnoreIndex);
        // The stub encoder reads only each image's mean, so small images keep the host-to-device copy trivial.
        var size = config.VisionEncoder.IsBuiltFromShapeKeys ? config.VisionEncoder.ImageSize : 16;
        var images = rand([b, 3, size, size], generator: generator);
        using var cpu = new ImageTextBatch { Images = images, InputIds = ids, Labels = labels, SampleIndices = new long[b] };
        return cpu.To(device);
    }

    private static double Mark(Device device, Stopwatch clock)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize();
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// The one-pass AdamW kernel against the composed update (fp32 copy of the bf16 gradient,
    /// torch._fused_adamw_, copy to bf16) on the same random shard for three clipped steps: the
    /// largest differences are printed, so a lever measured here is also shown to compute the same step.
    /// </summary>
    private static void CheckAdamWKernel(TextWriter output, Device device, OptimizerConfig config)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        const long n = (1 << 22) + 3; // a tail that the kernel's 4-wide loop does not cover
        // Random values drawn on the host (a CPU generator), then moved: the same shard for both updates.
        var generator = new Generator(5);
        var start = randn(n, generator: generator).to(device);
        using var kernel = new ShardedAdamW(start.clone(), config);
        using var composed = new ShardedAdamW(start.clone(), config);
        var kernelCopy = empty(n, ScalarType.BFloat16, device);
        var gradScale = full(1, 1.7f, ScalarType.Float32, device);
        if (!kernel.UsesComputeCopyKernel(kernelCopy, kernelCopy))
        {
            output.WriteLine("adamw-kernel check: the kernel does not apply here (FORGE_ATEN_KERNELS=off?)");
            return;
        }
        for (var step = 0; step < 3; step++)
        {
            var gradient = randn(n, generator: generator).mul_(0.01).to(ScalarType.BFloat16, device);
            kernel.UpdateWithComputeCopy(gradient, kernelCopy, config.Lr, gradScale);
            composed.Update(gradient.to(ScalarType.Float32), config.Lr, gradScale);
        }
        double MaxDiff(Tensor a, Tensor b) => a.to(ScalarType.Float32).sub(b.to(ScalarType.Float32)).abs().max().item<float>();
        output.WriteLine($"adamw-kernel check (3 steps on {n} elements vs torch._fused_adamw_): max |diff| master {MaxDiff(kernel.Master, composed.Master):E2}, " +
                         $"exp_avg {MaxDiff(kernel.ExpAvg, composed.ExpAvg):E2}, exp_avg_sq {MaxDiff(kernel.ExpAvgSq, composed.ExpAvgSq):E2}, " +
                         $"bf16 weights {MaxDiff(kernelCopy, composed.Master.to(ScalarType.BFloat16)):E2} (max |weight| {composed.Master.abs().max().item<float>():F2})");
    }

    /// <summary>
    /// The SwiGLU, RoPE and loss kernels against the composed ops they replace, forward and backward, on
    /// random bf16 tensors of ca-1b's shapes per token (few tokens): the largest differences relative to
    /// the largest composed value are printed, so the levers measured next are shown to compute the same step.
    /// </summary>
    private static void CheckActivationKernels(TextWriter output, Device device)
    {
        var previous = StepKernels.Current;
        try
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(6);
            Tensor Random(params long[] shape) => randn(shape, generator: generator).to(ScalarType.BFloat16, device);
            double Relative(Tensor a, Tensor b) =>
                a.to(ScalarType.Float32).sub(b.to(ScalarType.Float32)).abs().max().item<float>() / Math.Max(1e-30, b.to(ScalarType.Float32).abs().max().item<float>());
            (Tensor Value, Tensor[] Grads) Run(Func<Tensor[], Tensor> f, Tensor upstream, params Tensor[] inputs)
            {
                var leaves = inputs.Select(t => t.detach().clone().requires_grad_()).ToArray();
                var value = f(leaves);
                value.backward([upstream]);
                return (value.detach(), leaves.Select(l => l.grad!.clone()).ToArray());
            }

            var (gate, up, g) = (Random(4, 512, 5632).mul_(3), Random(4, 512, 5632), Random(4, 512, 5632));
            var (sw, swGrads) = Run(x => nn.functional.silu(x[0]).mul(x[1]), g, gate, up);
            var (kw, kwGrads) = Run(x => SwiGluGate.Apply(x[0], x[1]), g, gate, up);
            output.WriteLine($"swiglu-kernel check (bf16, 4x512x5632 vs silu(gate)*up): max |diff| / max |value|: out {Relative(kw, sw):E2}, " +
                             $"d gate {Relative(kwGrads[0], swGrads[0]):E2}, d up {Relative(kwGrads[1], swGrads[1]):E2}");

            using var rope = new RotaryEmbedding(128, 512, 500000, device);
            var (x, gx) = (Random(4, 512, 16, 128), Random(4, 512, 16, 128));
            StepKernels.Current = StepKernels.None;
            var (rw, rwGrads) = Run(t => rope.Apply(t[0]), gx, x);
            StepKernels.Current = StepKernels.Only(StepKernels.RopeKernelName);
            var (rk, rkGrads) = Run(t => rope.Apply(t[0]), gx, x);
            output.WriteLine($"rope-kernel check (bf16, 4x512x16x128 vs the composed rotation): out {Relative(rk, rw):E2}, d x {Relative(rkGrads[0], rwGrads[0]):E2}");

            var hidden = Random(4, 511, 2048);
            var weight = Random(32000, 2048).mul_(0.02);
            var labels = randint(3, 32000, [4, 512], generator: generator);
            labels[TensorIndex.Colon, 0] = tensor(CaptionEncoder.IgnoreIndex);
            labels = labels.to(device);
            var (chunked, cGrads) = Run(t => { var (s, n) = CaptionLoss.SumChunked(t[0], t[1], labels); return s.div(n); }, ones(new long[0], ScalarType.Float32, device), hidden, weight);
            var (fused, fGrads) = Run(t => { var (s, n) = CaptionLoss.SumFused(t[0], t[1], labels); return s.div(n); }, ones(new long[0], ScalarType.Float32, device), hidden, weight);
            output.WriteLine($"loss-kernel check (bf16, 4x511 rows x 32000 vs the chunked loss): loss {fused.item<float>():F6} vs {chunked.item<float>():F6}, " +
                             $"d hidden {Relative(fGrads[0], cGrads[0]):E2}, d head {Relative(fGrads[1], cGrads[1]):E2}");

            // Both outputs read downstream, as in a decoder layer: sum(h * uh) + sum(y * uy).
            var (residual, delta, uh, uy) = (Random(4, 512, 2048), Random(4, 512, 2048), Random(4, 512, 2048), Random(4, 512, 2048));
            var normWeight = Random(2048).mul_(0.5).add_(1);
            (Tensor H, Tensor Y, Tensor[] Grads) AddNorm(bool fused)
            {
                var leaves = new[] { residual, delta, normWeight }.Select(t => t.detach().clone().requires_grad_()).ToArray();
                var (h, y) = fused ? ResidualRmsNorm.Apply(leaves[0], leaves[1], leaves[2], 1e-5)
                    : (leaves[0].add(leaves[1]), RmsNorm.Composed(leaves[0].add(leaves[1]), leaves[2], 1e-5));
                h.mul(uh).sum().add(y.mul(uy).sum()).backward();
                return (h.detach(), y.detach(), leaves.Select(l => l.grad!.clone()).ToArray());
            }
            var (composed, kernel) = (AddNorm(false), AddNorm(true));
            output.WriteLine($"add-norm-kernel check (bf16, 4x512x2048 vs the composed add and RMSNorm): sum {Relative(kernel.H, composed.H):E2}, norm {Relative(kernel.Y, composed.Y):E2}, " +
                             $"d x {Relative(kernel.Grads[0], composed.Grads[0]):E2}, d delta {Relative(kernel.Grads[1], composed.Grads[1]):E2}, d weight {Relative(kernel.Grads[2], composed.Grads[2]):E2}");
        }
        finally
        {
            StepKernels.Current = previous;
        }
    }

    /// <summary>The allocator's statistics on CUDA, or null (with the reason printed) where they cannot be read.</summary>
    private static CudaAllocatorStats? AllocatorMemory(TextWriter output, Device device)
    {
        if (device.type != DeviceType.CUDA) return null;
        var stats = CudaAllocatorStats.TryOpen(0, out var why);
        if (stats is null) output.WriteLine($"note: peak memory not reported: {why}");
        return stats;
    }

    private static void Report(TextWriter output, ModelBenchmarkResult r, List<double> times, ModelBenchmarkOptions options)
    {
        output.WriteLine($"steps measured: {times.Count} (after {options.Warmup} warmup), min {times.Min() * 1000:F1} ms, median {r.SecondsPerStep * 1000:F1} ms, max {times.Max() * 1000:F1} ms");
        output.WriteLine($"steps/s          : {1 / r.SecondsPerStep:F3}");
        output.WriteLine($"text tokens/s    : {r.TextTokensPerSecond:F0}");
        output.WriteLine($"model TFLOP/step : {r.FlopsPerStep / 1e12:F2} (matmuls: 6*N*tokens + causal self-attn + cross-attn)");
        output.WriteLine($"achieved TFLOP/s : {r.FlopsPerStep / r.SecondsPerStep / 1e12:F1}");
        output.WriteLine(double.IsNaN(r.Mfu) ? "MFU              : n/a on CPU" : $"MFU              : {r.Mfu * 100:F1}% of {options.PeakTflops} TFLOP/s");
        output.WriteLine(r.PeakAllocatedBytes > 0
            ? $"peak allocated   : {Gib(r.PeakAllocatedBytes):F2} GiB (CUDA caching allocator's peak of tensor bytes since the model was built, as torch.cuda.max_memory_allocated)"
            : "peak allocated   : n/a (CPU, or the allocator's statistics could not be read)");
        output.WriteLine($"final loss       : {r.FinalLoss:F4}");
        if (r.Phases is { } p)
        {
            var total = p.Forward + p.Backward + p.Clip + p.Optimizer;
            output.WriteLine("breakdown (mean, synchronised between phases):");
            foreach (var (name, s) in new[] { ("forward+loss", p.Forward), ("backward", p.Backward), ("clip (norm)", p.Clip), ("optimizer", p.Optimizer) })
                output.WriteLine($"  {name,-13}: {s * 1000,8:F1} ms  {s / total * 100,5:F1}%");
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static string DeviceName(Device device) =>
        device.type == DeviceType.CUDA ? $"cuda:0 {SafeCudaName()}" : $"cpu ({Environment.ProcessorCount} threads)";

    private static string SafeCudaName()
    {
        try { return CudaRuntime.DeviceName(0); }
        catch (Exception) { return ""; }
    }

    private static double Gib(long bytes) => bytes / (double)(1L << 30);

    private static void ReportLevers(TextWriter output, IReadOnlyList<ModelBenchmarkResult> results)
    {
        output.WriteLine("levers (each alone against none; median step; phases are means, synchronised between phases when --breakdown):");
        output.WriteLine($"  {"levers",-42} {"step ms",8} {"text tok/s",11} {"vs none",8} {"fwd+loss",9} {"backward",9} {"clip",6} {"optim",6} {"peak GiB",9} {"final loss",11}");
        var baseline = results[0].SecondsPerStep;
        foreach (var r in results)
        {
            var p = r.Phases;
            string Ms(double? s) => s is { } v ? $"{v * 1000:F1}" : "-";
            output.WriteLine($"  {r.Levers,-42} {r.SecondsPerStep * 1000,8:F1} {r.TextTokensPerSecond,11:F0} {baseline / r.SecondsPerStep,7:F3}x {Ms(p?.Forward),9} {Ms(p?.Backward),9} {Ms(p?.Clip),6} {Ms(p?.Optimizer),6} {(r.PeakAllocatedBytes > 0 ? $"{Gib(r.PeakAllocatedBytes):F2}" : "n/a"),9} {r.FinalLoss,11:F4}");
        }
    }
}
