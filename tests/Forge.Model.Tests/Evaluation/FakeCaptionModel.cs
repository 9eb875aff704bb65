using Forge.Model.Data;
using Forge.Model.Text;
using Forge.Model.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Evaluation;

/// <summary>
/// An <see cref="ITrainableModel"/> whose logits are a given function of (images, input ids), with
/// a real shifted cross-entropy, and which records the autograd and training modes it ran under.
/// </summary>
public sealed class FakeCaptionModel : ITrainableModel
{
    private readonly Func<Tensor, Tensor, Tensor> _logits;
    private readonly nn.Module _module = nn.Linear(1, 1);

    public FakeCaptionModel(Func<Tensor, Tensor, Tensor> logits)
    {
        _logits = logits;
    }

    public nn.Module Module => _module;
    public List<(bool GradEnabled, bool Training)> Calls { get; } = [];

    /// <summary>Zero logits over the vocabulary: every token costs exactly ln(vocab).</summary>
    public static FakeCaptionModel Uniform(int vocab) =>
        new((images, ids) => zeros(ids.shape[0], ids.shape[1], vocab));

    /// <summary>Always predicts the same token, so it never ends a caption.</summary>
    public static FakeCaptionModel Constant(int vocab, int token) =>
        new((images, ids) => nn.functional.one_hot(full(ids.shape[0], ids.shape[1], (long)token), vocab).to(ScalarType.Float32) * 10);

    /// <summary>
    /// Recognises each test image by its colour (the green byte of <c>TestImages.RowColour(i)</c> is
    /// 255 - i) and predicts its training row token by token, with logit margin confidence(row).
    /// </summary>
    public static FakeCaptionModel Oracle(ImageTextDataset dataset, Func<int, double> confidence) => new((images, ids) =>
    {
        var (rows, width) = ((int)ids.shape[0], (int)ids.shape[1]);
        var vocab = dataset.Tokenizer.VocabSize;
        var logits = new float[rows * width * vocab];
        // Normalised with mean = std = 0.5: byte = (x * 0.5 + 0.5) * 255.
        var green = (images[TensorIndex.Colon, 1, 0, 0] * 0.5 + 0.5).mul(255).round().to(ScalarType.Int64).data<long>().ToArray();
        var expectedIds = new long[width];
        var labels = new long[width];
        for (var b = 0; b < rows; b++)
        {
            var row = 255 - (int)green[b];
            dataset.Captions.Encode(dataset[row].Prompt, dataset[row].Caption, expectedIds, labels);
            for (var t = 0; t + 1 < width; t++)
                logits[(b * width + t) * vocab + expectedIds[t + 1]] = (float)confidence(row);
        }
        return tensor(logits, [rows, width, vocab]);
    });

    public (Tensor LossSum, long Tokens) LossSum(ImageTextBatch batch)
    {
        var logits = Logits(batch.Images, batch.InputIds);
        var vocab = logits.shape[2];
        var predicted = logits[TensorIndex.Colon, TensorIndex.Slice(0, -1)].reshape(-1, vocab);
        var targets = batch.Labels[TensorIndex.Colon, TensorIndex.Slice(1)].reshape(-1);
        var loss = nn.functional.cross_entropy(predicted, targets, ignore_index: CaptionEncoder.IgnoreIndex, reduction: nn.Reduction.Sum);
        return (loss, batch.TargetTokens());
    }

    public Tensor Logits(Tensor images, Tensor inputIds, Tensor? imageMask = null)
    {
        Calls.Add((is_grad_enabled(), _module.training));
        return _logits(images, inputIds);
    }

    public void ApplyFreezeFor(long step)
    {
    }

    public void Dispose() => _module.Dispose();
}
