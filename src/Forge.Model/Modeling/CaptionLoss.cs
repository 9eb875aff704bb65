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
        var (b, t) = (labels.shape[0], labels.shape[1]);
        if (logits.shape[0] != b || (logits.shape[1] != t && logits.shape[1] != t - 1))
            throw new ArgumentException($"logits [{string.Join(", ", logits.shape)}] do not fit labels [{b}, {t}]: expected [{b}, {t} or {t - 1}, vocab]");
        using var scope = NewDisposeScope();
        var predicting = logits.shape[1] == t ? logits.narrow(1, 0, t - 1) : logits;
        var targets = labels.narrow(1, 1, t - 1).reshape(-1);
        var vocab = logits.shape[2];
        var loss = nn.functional.cross_entropy(
            predicting.reshape(-1, vocab).to(ScalarType.Float32), targets,
            ignore_index: CaptionEncoder.IgnoreIndex, reduction: nn.Reduction.Sum);
        var tokens = targets.NotEqualTo(CaptionEncoder.IgnoreIndex).sum().item<long>();
        return (loss.MoveToOuterDisposeScope(), tokens);
    }
}
