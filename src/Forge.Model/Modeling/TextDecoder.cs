using Forge.Model.Config;
using Forge.Model.Modeling.Moe;
using Forge.Model.Modeling.Mot;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>
/// The Llama-style text transformer (KempnerForge's "transformer"): token embedding, causal
/// decoder layers with cross-attention blocks interleaved after every N-th layer, final RMSNorm,
/// untied output head. With no cross-attention blocks it is a plain text-only decoder. Layer i's MLP
/// is an MoE when model.num_experts &gt; 0 and (i+1) % model.moe_frequency == 0, as in KempnerForge.
/// For Mixture-of-Transformers the layers are <see cref="MotBlock"/>s and the final norms are
/// per modality (mot_norms); `norm` is still built, unused, so KempnerForge's MoT state dict loads
/// unchanged (it keeps norm.weight too, frozen).
/// </summary>
public sealed class TextDecoder : nn.Module
{
    public readonly TokenEmbedding token_embedding;
    public readonly ModuleList<nn.Module> layers;
    public readonly ModuleList<CrossAttentionBlock> cross_attention_layers;
    public readonly RmsNorm norm;
    /// <summary>MoT's per-modality final norms; null (no state) for the other archs.</summary>
    public readonly ModalityPair<RmsNorm>? mot_norms;
    public readonly OutputHead output_head;

    private readonly RotaryEmbedding _rope;
    private readonly int _crossAttentionEvery;

    public ModelConfig Config { get; }

    /// <summary>Whether the layers are Mixture-of-Transformers blocks.</summary>
    public bool IsMixtureOfTransformers { get; }

    /// <param name="crossAttention">Cadence and heads of the CA blocks, or null for a text-only decoder.</param>
    /// <param name="mixtureOfTransformers">Builds <see cref="MotBlock"/> layers (image and text modalities) instead.</param>
    public TextDecoder(ModelConfig config, (int EveryNLayers, int Heads, int KvHeads)? crossAttention, Device device, bool mixtureOfTransformers = false)
        : base(nameof(TextDecoder))
    {
        Config = config;
        IsMixtureOfTransformers = mixtureOfTransformers;
        var ffn = config.ResolvedFfnHiddenDim;
        token_embedding = new TokenEmbedding(config.VocabSize, config.Dim, device);
        if (mixtureOfTransformers && config.IsMoe)
            throw new ArgumentException($"model.num_experts = {config.NumExperts} with vlm.arch = \"mot\": MoE MLPs inside MoT blocks are not supported; use 0");
        layers = new ModuleList<nn.Module>(Enumerable.Range(0, config.NLayers)
            .Select(i => mixtureOfTransformers ? (nn.Module)new MotBlock(config.Dim, config.NHeads, config.ResolvedKvHeads, ffn, config.NormEps, device) : Layer(config, i, device))
            .ToArray());
        var blocks = new List<CrossAttentionBlock>();
        if (crossAttention is { } ca)
        {
            if (ca.EveryNLayers <= 0)
                throw new ArgumentException($"vlm.cross_attention_every_n_layers must be positive, got {ca.EveryNLayers}");
            _crossAttentionEvery = ca.EveryNLayers;
            for (var i = 0; i < config.NLayers / ca.EveryNLayers; i++)
                blocks.Add(new CrossAttentionBlock(config.Dim, ca.Heads, ca.KvHeads, ffn, config.NormEps, device));
        }
        cross_attention_layers = new ModuleList<CrossAttentionBlock>(blocks.ToArray());
        norm = new RmsNorm(config.Dim, config.NormEps, device);
        mot_norms = mixtureOfTransformers
            ? new ModalityPair<RmsNorm>(() => new RmsNorm(config.Dim, config.NormEps, device))
            : null;
        output_head = new OutputHead(config.Dim, config.VocabSize, device);
        _rope = new RotaryEmbedding(config.HeadDim, config.MaxSeqLen, config.RopeTheta, device);
        RegisterComponents();
    }

    private static TransformerBlock Layer(ModelConfig config, int index, Device device)
    {
        nn.Module mlp = config.IsMoeLayer(index)
            ? new MoeMlp(config.Dim, config.ExpertFfnHiddenDim, config.NumExperts, config.MoeTopK, config.MoeSharedExperts, config.MoeCapacityFactor, device)
            : new SwiGluMlp(config.Dim, config.ResolvedFfnHiddenDim, device);
        return new TransformerBlock(config.Dim, config.NHeads, config.ResolvedKvHeads, config.NormEps, mlp, device);
    }

    /// <summary>Decoder layer <paramref name="index"/> of a dense or MoE decoder.</summary>
    public TransformerBlock Block(int index) => layers[index] as TransformerBlock
        ?? throw new InvalidOperationException($"layer {index} is a {layers[index].GetType().Name}, not a TransformerBlock");

    /// <summary>
    /// Final-normed hidden states (B, S, dim) for input embeddings <paramref name="x"/> (B, S, dim).
    /// With <paramref name="image"/> (B, N, dim) the CA blocks run after every N-th layer; without
    /// it they are skipped (text-only forward). MoE layers report to <paramref name="routing"/>.
    /// </summary>
    public Tensor Hidden(Tensor x, Tensor? image = null, Tensor? imageMask = null, Tensor? keyPaddingMask = null, RoutingLog? routing = null)
    {
        if (IsMixtureOfTransformers) throw new InvalidOperationException("a Mixture-of-Transformers decoder runs through MotHidden(image, text)");
        using var scope = NewDisposeScope();
        // The stream is carried as (residual, pending addend), so each add is fused with the norm after it.
        var (residual, pending) = (x, (Tensor?)null);
        for (var i = 0; i < layers.Count; i++)
        {
            (residual, pending) = Block(i).Forward(residual, pending, _rope, keyPaddingMask, routing);
            if (image is not null && _crossAttentionEvery > 0 && (i + 1) % _crossAttentionEvery == 0)
                (residual, pending) = cross_attention_layers[(i + 1) / _crossAttentionEvery - 1].Forward(residual, pending, image, imageMask);
        }
        return norm.AfterAdd(residual, pending).Normed.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Mixture-of-Transformers forward: the image (B, N, dim) and text (B, T, dim) streams through
    /// every <see cref="MotBlock"/>, each final-normed by its own mot_norms entry. Returns the text
    /// stream's hidden states (B, T, dim).
    /// </summary>
    public Tensor MotHidden(Tensor image, Tensor text, Tensor? keyPaddingMask = null)
    {
        if (!IsMixtureOfTransformers) throw new InvalidOperationException("MotHidden needs a decoder built with mixtureOfTransformers");
        using var scope = NewDisposeScope();
        var (hi, ht) = (image, text);
        foreach (var layer in layers)
            (hi, ht) = ((MotBlock)layer).forward(hi, ht, _rope, keyPaddingMask);
        return mot_norms!.Of(Modalities.Text).forward(ht).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _rope.Dispose();
        base.Dispose(disposing);
    }
}
