using Forge.Model.Config;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Architectures;

/// <summary>
/// How image embeddings meet the text stream. One strategy per `vlm.arch`, registered in
/// <see cref="VlmRegistry"/>; the wrapper's forward never changes when one is added. Strategies
/// hold no parameters: everything trainable lives in the wrapper's modules.
/// </summary>
public interface IVlmArchitecture
{
    /// <summary>Whether the text decoder is built with cross-attention blocks.</summary>
    bool UsesCrossAttention { get; }

    /// <summary>Rejects configurations this arch cannot run, naming the key.</summary>
    void Validate(JobConfig config, int imageTokens);

    /// <summary>Final-normed hidden states at the text positions, (B, T, dim).</summary>
    Tensor TextHidden(TextDecoder decoder, Tensor imageEmbeds, Tensor inputIds, Tensor? imageMask);
}
