using Forge.Model.Data;
using Forge.Model.Modeling.Adapters;
using Forge.Model.Modeling.Architectures;
using Forge.Model.Modeling.Moe;
using Forge.Model.Modeling.Vision;
using Forge.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>
/// Vision encoder -> adapter -> text decoder, wired by a registered architecture. Parameter names
/// are KempnerForge's VLMWrapper state-dict names (vision_encoder.*, adapter.*, transformer.*).
/// Parameters live in the compute dtype; fp32 master weights belong to the optimizer.
/// </summary>
public sealed class VisionLanguageModel : nn.Module, ITrainableModel
{
    public readonly VisionEncoder vision_encoder;
    public readonly VisionAdapter adapter;
    public readonly TextDecoder transformer;

    private readonly IVlmArchitecture _architecture;
    private readonly FreezePolicy _freeze;

    public ScalarType ComputeDType { get; }
    public nn.Module Module => this;
    public IVlmArchitecture Architecture => _architecture;

    public VisionLanguageModel(
        VisionEncoder visionEncoder,
        VisionAdapter adapter,
        TextDecoder transformer,
        IVlmArchitecture architecture,
        FreezePolicy freeze,
        ScalarType computeDType) : base(nameof(VisionLanguageModel))
    {
        vision_encoder = visionEncoder;
        this.adapter = adapter;
        this.transformer = transformer;
        _architecture = architecture;
        _freeze = freeze;
        ComputeDType = computeDType;
        RegisterComponents();
    }

    /// <summary>Adapted image embeddings (B, N, dim) in the compute dtype.</summary>
    public Tensor ImageEmbeddings(Tensor images)
    {
        using var scope = NewDisposeScope();
        Tensor features;
        // A frozen encoder needs no graph: skipping it saves its activations and backward.
        var encoderTrains = vision_encoder.parameters().Any(p => p.requires_grad);
        using (encoderTrains ? null : no_grad())
            features = vision_encoder.forward(images.to(ComputeDType));
        return adapter.forward(features.to(ComputeDType)).MoveToOuterDisposeScope();
    }

    /// <summary>Final-normed text hidden states (B, T, dim).</summary>
    public Tensor TextHidden(Tensor images, Tensor inputIds, Tensor? imageMask = null, RoutingLog? routing = null)
    {
        using var scope = NewDisposeScope();
        var embeds = ImageEmbeddings(images);
        return _architecture.TextHidden(transformer, embeds, inputIds, imageMask, routing).MoveToOuterDisposeScope();
    }

    public Tensor Logits(Tensor images, Tensor inputIds, Tensor? imageMask = null)
    {
        using var scope = NewDisposeScope();
        return transformer.output_head.forward(TextHidden(images, inputIds, imageMask)).MoveToOuterDisposeScope();
    }

    public bool HasMoeLayers => transformer.Config.IsMoe;

    public (Tensor LossSum, long Tokens) LossSum(ImageTextBatch batch) => LossSum(batch, null);

    public (Tensor LossSum, long Tokens) LossSum(ImageTextBatch batch, RoutingLog? routing)
    {
        using var scope = NewDisposeScope();
        var hidden = TextHidden(batch.Images, batch.InputIds, batch.ImageMask, routing);
        // The last position predicts nothing: skip it before the (vocab-wide) head.
        var predicting = hidden.narrow(1, 0, hidden.shape[1] - 1);
        var levers = StepKernels.Current;
        var (sum, tokens) = levers.LossKernel ? CaptionLoss.SumFused(predicting, transformer.output_head.proj.weight!, batch.Labels)
            : levers.ChunkedLoss ? CaptionLoss.SumChunked(predicting, transformer.output_head.proj.weight!, batch.Labels)
            : CaptionLoss.Sum(transformer.output_head.forward(predicting), batch.Labels);
        return (sum.MoveToOuterDisposeScope(), tokens);
    }

    public void ApplyFreezeFor(long step) => _freeze.Apply(this, step);

    public IReadOnlyList<long> FreezeStageStarts => _freeze.StageStarts;
}
