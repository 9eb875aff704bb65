using Forge.Model.Text;
using TorchSharp;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling;

/// <summary>
/// Next-token cross-entropy for captions. Labels arrive aligned with the input ids; the logits at
/// position t are scored against the label at t+1, and -100 positions (BOS, prompt, padding) are
/// skipped. KempnerForge once shipped this loss without the shift: the model then learned to copy
/// its input and the loss fell to zero while nothing was learned. The shift lives here, once.
/// </summary>
public static class CaptionLoss
{
    /// <summary>
    /// Summed loss in fp32 and the number of target tokens. <paramref name="logits"/> are either
    /// (B, T, V), one row per input position (the last is dropped: it has no next token), or
    /// (B, T-1, V), already only the predicting positions (saves the head's work on the last one).
    /// </summary>
    public static (Tensor Sum, long Tokens) Sum(Tensor logits, Tensor labels)
    {
        CheckShapes(logits, labels, "logits", "vocab");
        using var scope = NewDisposeScope();
        var (predicting, targets) = PredictingRows(logits, labels);
        var loss = nn.functional.cross_entropy(
            predicting.to(ScalarType.Float32), targets,
            ignore_index: CaptionEncoder.IgnoreIndex, reduction: nn.Reduction.Sum);
        var tokens = targets.NotEqualTo(CaptionEncoder.IgnoreIndex).sum().item<long>();
        return (loss.MoveToOuterDisposeScope(), tokens);
    }

    /// <summary>
    /// The same sum as <see cref="Sum"/> of the head's logits <c>hidden @ headWeight^T</c>, without the
    /// fp32 logits of the whole batch: rows are taken <paramref name="chunkRows"/> at a time, their
    /// logits made in the compute dtype, scored in fp32 and dropped. Because the loss is the last op of
    /// the step, its gradient is known up to the caller's scale while the chunk is at hand (softmax
    /// minus the target's one-hot, per row); it is kept in the compute dtype, and after the last chunk
    /// the two matmuls backward would run give the gradients of <paramref name="hidden"/> and of
    /// <paramref name="headWeight"/>. Autograd receives them through a surrogate term whose value is
    /// exactly zero and whose gradient is theirs, so backward costs two scalings. At ca-1b's
    /// 16 x 511 x 32000 this holds 0.5 GiB of bf16 logit gradient for a moment, where the composed path
    /// holds the fp32 logits and their log-softmax (2 GiB) into backward and builds their gradient there.
    /// <paramref name="hidden"/> is (B, T-1, dim) or (B, T, dim), as <see cref="Sum"/> takes logits.
    /// </summary>
    public static (Tensor Sum, long Tokens) SumChunked(Tensor hidden, Tensor headWeight, Tensor labels, long chunkRows = DefaultChunkRows)
    {
        CheckShapes(hidden, labels, "hidden states", "dim");
        if (chunkRows < 1) throw new ArgumentException($"chunkRows = {chunkRows}: expected at least 1");
        using var scope = NewDisposeScope();
        var (rows, targets) = PredictingRows(hidden, labels);
        var hiddenGrad = is_grad_enabled() && rows.requires_grad;
        var weightGrad = is_grad_enabled() && headWeight.requires_grad;
        var n = rows.shape[0];
        Tensor lossSum;
        Tensor? gradRows = null, gradWeight = null;
        using (no_grad())
        {
            lossSum = zeros(1, ScalarType.Float32, rows.device);
            // The logits' gradient in the compute dtype, as autograd would hand it to the head's matmuls.
            var dLogits = hiddenGrad || weightGrad ? empty(n, headWeight.shape[0], rows.dtype, rows.device) : null;
            for (var start = 0L; start < n; start += chunkRows)
            {
                using var chunkScope = NewDisposeScope();
                var length = Math.Min(chunkRows, n - start);
                var x = rows.narrow(0, start, length);
                var target = targets.narrow(0, start, length);
                var logits = nn.functional.linear(x, headWeight).to(ScalarType.Float32);
                var valid = target.NotEqualTo(CaptionEncoder.IgnoreIndex);
                var index = target.where(valid, zeros_like(target)).unsqueeze(1);
                var logSumExp = logits.logsumexp(1, keepdim: true);
                var picked = logits.gather(1, index);
                lossSum.PlusInPlace(logSumExp.sub(picked).squeeze(1).where(valid, zeros(1, ScalarType.Float32, x.device)).sum());
                if (dLogits is null) continue;
                // d(sum of CE)/d(logits) per row: softmax - one_hot(target); an ignored row has none.
                var validColumn = valid.unsqueeze(1).to(ScalarType.Float32);
                var probabilities = logits.sub_(logSumExp).exp_();
                probabilities.scatter_add_(1, index, validColumn.neg()).mul_(validColumn);
                dLogits.narrow(0, start, length).copy_(probabilities);
            }
            // The two matmuls autograd would run in backward, whole-sized (one rounding, full efficiency).
            if (dLogits is not null)
            {
                if (hiddenGrad) gradRows = dLogits.matmul(headWeight);
                if (weightGrad) gradWeight = dLogits.t().matmul(rows);
                dLogits.Dispose();
            }
        }
        return WithGradients(lossSum.squeeze(0), rows, gradRows, headWeight, gradWeight, targets);
    }

    /// <summary>
    /// The same sum as <see cref="SumChunked"/> with the scoring in one kernel (<see cref="CrossEntropyKernel"/>):
    /// the head's bf16 logits of all rows in one matmul, turned in place into their gradient with each
    /// row's loss, then the two backward matmuls. It holds the same (rows, vocab) compute-dtype buffer at
    /// the peak as the chunked loss's logit gradient, and no fp32 logits at all. Where the kernel does
    /// not apply (a CPU, fp32 compute) this is <see cref="SumChunked"/>.
    /// </summary>
    public static (Tensor Sum, long Tokens) SumFused(Tensor hidden, Tensor headWeight, Tensor labels)
    {
        if (hidden.device.type != DeviceType.CUDA || hidden.dtype != ScalarType.BFloat16 || headWeight.dtype != ScalarType.BFloat16)
            return SumChunked(hidden, headWeight, labels);
        CheckShapes(hidden, labels, "hidden states", "dim");
        using var scope = NewDisposeScope();
        var (rows, targets) = PredictingRows(hidden, labels);
        var hiddenGrad = is_grad_enabled() && rows.requires_grad;
        var weightGrad = is_grad_enabled() && headWeight.requires_grad;
        Tensor lossSum;
        Tensor? gradRows = null, gradWeight = null;
        using (no_grad())
        {
            var logits = nn.functional.linear(rows, headWeight).contiguous();
            lossSum = CrossEntropyKernel.LossAndGradientInPlace(logits, targets, CaptionEncoder.IgnoreIndex).sum();
            // The logits now hold their gradient: the two matmuls autograd would run in backward.
            if (hiddenGrad) gradRows = logits.matmul(headWeight);
            if (weightGrad) gradWeight = logits.t().matmul(rows);
            logits.Dispose();
        }
        return WithGradients(lossSum, rows, gradRows, headWeight, gradWeight, targets);
    }

    /// <summary>Per-position values (logits or hidden states) must be (B, T, *) or (B, T-1, *) for labels of (B, T).</summary>
    private static void CheckShapes(Tensor perPosition, Tensor labels, string what, string last)
    {
        var (b, t) = (labels.shape[0], labels.shape[1]);
        if (perPosition.shape[0] != b || (perPosition.shape[1] != t && perPosition.shape[1] != t - 1))
            throw new ArgumentException($"{what} [{string.Join(", ", perPosition.shape)}] do not fit labels [{b}, {t}]: expected [{b}, {t} or {t - 1}, {last}]");
    }

    /// <summary>
    /// The values of every position that predicts a token, as (rows, last dim), and the token each predicts
    /// (rows): position i predicts label i+1, and the last position predicts nothing.
    /// </summary>
    private static (Tensor Rows, Tensor Targets) PredictingRows(Tensor perPosition, Tensor labels)
    {
        var t = labels.shape[1];
        var rows = (perPosition.shape[1] == t ? perPosition.narrow(1, 0, t - 1) : perPosition).reshape(-1, perPosition.shape[2]);
        return (rows, labels.narrow(1, 1, t - 1).reshape(-1));
    }

    // The loss sum, plus the surrogate terms that hand the precomputed gradients to autograd, and the target count.
    private static (Tensor Sum, long Tokens) WithGradients(Tensor lossSum, Tensor rows, Tensor? gradRows, Tensor headWeight, Tensor? gradWeight, Tensor targets)
    {
        var result = lossSum;
        if (gradRows is not null) result = result.Plus(ZeroWithGradient(rows, gradRows));
        if (gradWeight is not null) result = result.Plus(ZeroWithGradient(headWeight, gradWeight));
        var tokens = targets.NotEqualTo(CaptionEncoder.IgnoreIndex).sum().item<long>();
        return (result.MoveToOuterDisposeScope(), tokens);
    }

    /// <summary>
    /// Rows per chunk of <see cref="SumChunked"/>: 1024 rows of a 32000-word vocabulary are 125 MiB
    /// of fp32 logits (the loss runs at the step's memory peak, with every activation alive), and the
    /// head's matmuls are still 2 x 1024 x dim x vocab FLOPs each.
    /// </summary>
    public const long DefaultChunkRows = 1024;

    // s - s.detach() is exactly zero, and its gradient with respect to x is `gradient` (x's shape) times
    // the upstream scale. The product is formed in fp32 so the scale (1 / tokens) is not rounded to bf16;
    // mul_ on the fp32 copy saves only `gradient` (in its own dtype) for backward, and the copy is freed at once.
    private static Tensor ZeroWithGradient(Tensor x, Tensor gradient)
    {
        // (An fp32 x is its own "copy": it is multiplied out of place.)
        var surrogate = (x.dtype == ScalarType.Float32 ? x.mul(gradient) : x.to(ScalarType.Float32).mul_(gradient)).sum();
        return surrogate.sub(surrogate.detach());
    }
}
