using Forge.Model.Config;
using Forge.Model.Modeling.Moe;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Architectures;

/// <summary>Llama-3-V style: the residual stream carries text only; image embeddings are the K/V of interleaved cross-attention blocks.</summary>
public sealed class CrossAttentionArchitecture : IVlmArchitecture
{
    public const string Name = "cross_attention";

    public bool UsesCrossAttention => true;

    public void Validate(JobConfig config, int imageTokens)
    {
        var every = config.Vlm.CrossAttentionEveryNLayers;
        if (every <= 0 || every > config.Model.NLayers)
            throw new ArgumentException($"vlm.cross_attention_every_n_layers is {every}; expected 1..model.n_layers ({config.Model.NLayers}) so at least one block exists");
        if (config.Vlm.MaxTextLen > config.Model.MaxSeqLen)
            throw new ArgumentException($"vlm.max_text_len {config.Vlm.MaxTextLen} exceeds model.max_seq_len {config.Model.MaxSeqLen}");
    }

    public Tensor TextHidden(TextDecoder decoder, Tensor imageEmbeds, Tensor inputIds, Tensor? imageMask, RoutingLog? routing = null) =>
        decoder.Hidden(decoder.token_embedding.forward(inputIds), imageEmbeds, imageMask, routing: routing);
}
