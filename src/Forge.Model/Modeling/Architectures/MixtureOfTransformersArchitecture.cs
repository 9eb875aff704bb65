using Forge.Model.Config;
using Forge.Model.Modeling.Moe;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Architectures;

/// <summary>
/// Mixture-of-Transformers (KempnerForge's "mot"): the image embeddings and the text run as two
/// streams through per-modality weights, meeting in one causal attention over [image | text] at every
/// layer. An image mask becomes a key-padding mask over the image part, as for the joint decoder.
/// </summary>
public sealed class MixtureOfTransformersArchitecture : IVlmArchitecture
{
    public const string Name = "mot";

    public bool UsesCrossAttention => false;

    public bool UsesMixtureOfTransformers => true;

    public void Validate(JobConfig config, int imageTokens)
    {
        var needed = imageTokens + config.Vlm.MaxTextLen;
        if (needed > config.Model.MaxSeqLen)
            throw new ArgumentException($"model.max_seq_len {config.Model.MaxSeqLen} is too small for mot: {imageTokens} image tokens + vlm.max_text_len {config.Vlm.MaxTextLen} = {needed}");
        var m = config.Model;
        var (heads, kvHeads) = config.Vlm.ResolvedMotImageHeads(m.NHeads, m.ResolvedKvHeads);
        if (heads != m.NHeads || kvHeads != m.ResolvedKvHeads)
            throw new ArgumentException($"vlm.mot_image_n_heads / mot_image_n_kv_heads resolve to ({heads}, {kvHeads}) but the text heads are ({m.NHeads}, {m.ResolvedKvHeads}): one attention over both modalities needs them equal");
        if (m.IsMoe)
            throw new ArgumentException($"model.num_experts = {m.NumExperts} with vlm.arch = \"mot\": MoE MLPs inside MoT blocks are not supported; use 0");
        if (config.Vlm.MotWarmStartFromText && config.Vlm.MotWarmStartPath.Length == 0)
            throw new ArgumentException("vlm.mot_warm_start_from_text = true needs vlm.mot_warm_start_path, a dense text-stack safetensors file");
    }

    /// <summary>
    /// Parameters that never reach the text loss, kept frozen so the optimizer does not decay them
    /// (KempnerForge's AdamW skips them, their gradient being None): the dense final norm, the image
    /// final norm, and the last layer's image residual branch, whose output no text position reads.
    /// </summary>
    public IReadOnlyList<string> UnusedParameters(JobConfig config)
    {
        var last = $"transformer.layers.{config.Model.NLayers - 1}";
        return
        [
            "transformer.norm.weight",
            "transformer.mot_norms.image.weight",
            $"{last}.attn.o_proj.image.weight",
            $"{last}.mlp_norm.image.weight",
            $"{last}.mlp.image.gate_proj.weight",
            $"{last}.mlp.image.up_proj.weight",
            $"{last}.mlp.image.down_proj.weight",
        ];
    }

    public Tensor TextHidden(TextDecoder decoder, Tensor imageEmbeds, Tensor inputIds, Tensor? imageMask, RoutingLog? routing = null)
    {
        using var scope = NewDisposeScope();
        var (b, t) = (inputIds.shape[0], inputIds.shape[1]);
        var text = decoder.token_embedding.forward(inputIds);
        Tensor? keyPadding = imageMask is null
            ? null
            : cat([imageMask, ones(b, t, ScalarType.Bool, imageMask.device)], 1);
        return decoder.MotHidden(imageEmbeds.to(text.dtype), text, keyPadding).MoveToOuterDisposeScope();
    }
}
