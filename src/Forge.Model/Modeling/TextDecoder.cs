using Forge.Model.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>
/// The Llama-style text transformer (KempnerForge's "transformer"): token embedding, causal
/// decoder layers with cross-attention blocks interleaved after every N-th layer, final RMSNorm,
/// untied output head. With no cross-attention blocks it is a plain text-only decoder.
/// </summary>
public sealed class TextDecoder : nn.Module
{
    public readonly TokenEmbedding token_embedding;
    public readonly ModuleList<TransformerBlock> layers;
    public readonly ModuleList<CrossAttentionBlock> cross_attention_layers;
    public readonly RmsNorm norm;
    public readonly OutputHead output_head;

    private readonly RotaryEmbedding _rope;
    private readonly int _crossAttentionEvery;

    public ModelConfig Config { get; }

    /// <param name="crossAttention">Cadence and heads of the CA blocks, or null for a text-only decoder.</param>
    public TextDecoder(ModelConfig config, (int EveryNLayers, int Heads, int KvHeads)? crossAttention, Device device)
        : base(nameof(TextDecoder))
    {
        Config = config;
        var ffn = config.ResolvedFfnHiddenDim;
        token_embedding = new TokenEmbedding(config.VocabSize, config.Dim, device);
        layers = new ModuleList<TransformerBlock>(Enumerable.Range(0, config.NLayers)
            .Select(_ => new TransformerBlock(config.Dim, config.NHeads, config.ResolvedKvHeads, ffn, config.NormEps, device))
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
        output_head = new OutputHead(config.Dim, config.VocabSize, device);
        _rope = new RotaryEmbedding(config.HeadDim, config.MaxSeqLen, config.RopeTheta, device);
        RegisterComponents();
    }

    /// <summary>
    /// Final-normed hidden states (B, S, dim) for input embeddings <paramref name="x"/> (B, S, dim).
    /// With <paramref name="image"/> (B, N, dim) the CA blocks run after every N-th layer; without
    /// it they are skipped (text-only forward).
    /// </summary>
    public Tensor Hidden(Tensor x, Tensor? image = null, Tensor? imageMask = null, Tensor? keyPaddingMask = null)
    {
        using var scope = NewDisposeScope();
        var h = x;
        for (var i = 0; i < layers.Count; i++)
        {
            h = layers[i].forward(h, _rope, keyPaddingMask);
            if (image is not null && _crossAttentionEvery > 0 && (i + 1) % _crossAttentionEvery == 0)
                h = cross_attention_layers[(i + 1) / _crossAttentionEvery - 1].forward(h, image, imageMask);
        }
        return norm.forward(h).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _rope.Dispose();
        base.Dispose(disposing);
    }
}
