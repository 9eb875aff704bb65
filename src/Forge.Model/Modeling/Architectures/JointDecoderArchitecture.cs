using Forge.Model.Config;
using Forge.Model.Modeling.Moe;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Architectures;

/// <summary>
/// LLaVA style: image embeddings are prefixed to the token embeddings and the decoder runs
/// causally over both; only the text positions' hidden states come out. An image mask becomes a
/// key-padding mask over the prefix.
/// </summary>
public sealed class JointDecoderArchitecture : IVlmArchitecture
{
    public const string Name = "joint_decoder";

    public bool UsesCrossAttention => false;

    public void Validate(JobConfig config, int imageTokens)
    {
        var needed = imageTokens + config.Vlm.MaxTextLen;
        if (needed > config.Model.MaxSeqLen)
            throw new ArgumentException($"model.max_seq_len {config.Model.MaxSeqLen} is too small for joint_decoder: {imageTokens} image tokens + vlm.max_text_len {config.Vlm.MaxTextLen} = {needed}");
    }

    public Tensor TextHidden(TextDecoder decoder, Tensor imageEmbeds, Tensor inputIds, Tensor? imageMask, RoutingLog? routing = null)
    {
        using var scope = NewDisposeScope();
        var (b, n, t) = (inputIds.shape[0], imageEmbeds.shape[1], inputIds.shape[1]);
        var text = decoder.token_embedding.forward(inputIds);
        var sequence = cat([imageEmbeds.to(text.dtype), text], 1);
        Tensor? keyPadding = imageMask is null
            ? null
            : cat([imageMask, ones(b, t, ScalarType.Bool, imageMask.device)], 1);
        var hidden = decoder.Hidden(sequence, keyPaddingMask: keyPadding, routing: routing);
        return hidden.narrow(1, n, t).MoveToOuterDisposeScope();
    }
}
