using Forge.Model.Data;
using Forge.Model.Text;
using Forge.Model.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Training.Fixtures;

/// <summary>
/// The smallest model with the shape of the real one: token embedding plus a projected image
/// summary, one frozen mixing layer, and an output head. 253 trainable elements (odd, so every
/// world size above 1 needs padding) and 64 frozen ones that must stay out of the flat layout.
/// Initialised from its own generator, so concurrent builds on several threads never race on
/// torch's global RNG and every build with one seed is identical.
/// </summary>
public sealed class TinyCaptionModel : ITrainableModel
{
    public const int Vocab = 13;
    public const int Dim = 8;
    public const long TrainableElements = Vocab * Dim + (3 * Dim + Dim) + (Dim * Vocab + Vocab);

    private readonly Net _net;

    private readonly long? _unfreezeMixAt;

    /// <param name="unfreezeMixAt">A freeze schedule: the mixing layer becomes trainable from this step on.</param>
    public TinyCaptionModel(long seed, long? unfreezeMixAt = null)
    {
        _unfreezeMixAt = unfreezeMixAt;
        _net = new Net();
        using var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (_, p) in _net.named_parameters()) p.copy_(randn(p.shape, generator: generator) * 0.3f);
        _net.Mix.weight!.requires_grad = false;
    }

    public nn.Module Module => _net;

    public (Tensor LossSum, long Tokens) LossSum(ImageTextBatch batch)
    {
        using var scope = NewDisposeScope();
        var logits = Logits(batch.Images, batch.InputIds);
        var predicted = logits[.., ..^1].reshape(-1, Vocab);
        var targets = batch.Labels[.., 1..].reshape(-1);
        var loss = nn.functional.cross_entropy(predicted, targets, ignore_index: CaptionEncoder.IgnoreIndex, reduction: nn.Reduction.Sum);
        return (loss.MoveToOuterDisposeScope(), batch.TargetTokens());
    }

    public Tensor Logits(Tensor images, Tensor inputIds, Tensor? imageMask = null)
    {
        var weight = _net.Head.weight!;
        var image = _net.Image.forward(images.to(weight.dtype).mean([2, 3])).unsqueeze(1);
        var x = _net.Embed.forward(inputIds) + image;
        x = x + _net.Mix.forward(x).tanh();
        return _net.Head.forward(x).to(ScalarType.Float32);
    }

    public void ApplyFreezeFor(long step) => _net.Mix.weight!.requires_grad = step >= _unfreezeMixAt;

    public IReadOnlyList<long> FreezeStageStarts => _unfreezeMixAt is > 0 ? [_unfreezeMixAt.Value] : [];

    public void Dispose() => _net.Dispose();

    private sealed class Net : nn.Module
    {
        public readonly Embedding Embed = nn.Embedding(Vocab, Dim);
        public readonly Linear Image = nn.Linear(3, Dim);
        public readonly Linear Mix = nn.Linear(Dim, Dim, hasBias: false);
        public readonly Linear Head = nn.Linear(Dim, Vocab);

        public Net() : base("tiny_caption") => RegisterComponents();
    }
}
