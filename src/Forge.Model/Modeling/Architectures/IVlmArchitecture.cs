using Forge.Model.Config;
using Forge.Model.Modeling.Moe;
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

    /// <summary>Whether the decoder's layers are Mixture-of-Transformers blocks.</summary>
    bool UsesMixtureOfTransformers => false;

    /// <summary>Parameters (full names) the arch builds but never uses; they are kept frozen whatever the freeze specs say.</summary>
    IReadOnlyList<string> UnusedParameters(JobConfig config) => [];

    /// <summary>Rejects configurations this arch cannot run, naming the key.</summary>
    void Validate(JobConfig config, int imageTokens);

    /// <summary>Final-normed hidden states at the text positions, (B, T, dim).</summary>
    /// <param name="routing">Receives the MoE layers' losses and expert counts, when there are MoE layers.</param>
    Tensor TextHidden(TextDecoder decoder, Tensor imageEmbeds, Tensor inputIds, Tensor? imageMask, RoutingLog? routing = null);
}
