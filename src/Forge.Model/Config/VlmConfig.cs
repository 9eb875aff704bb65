namespace Forge.Model.Config;

/// <summary>
/// `[vlm]`: which vision-language architecture wires the parts together, and the freeze policy.
/// `arch` selects a registered architecture ("cross_attention", "joint_decoder" or "mot").
/// </summary>
public sealed record VlmConfig
{
    public string Arch { get; init; } = "cross_attention";
    /// <summary>Every caption is padded or truncated to this many tokens, so all ranks see one shape.</summary>
    public int MaxTextLen { get; init; } = 32;
    /// <summary>A CA block runs after text layer i when (i+1) % N == 0.</summary>
    public int CrossAttentionEveryNLayers { get; init; } = 4;
    /// <summary>0 means the text model's n_heads.</summary>
    public int CrossAttentionNHeads { get; init; }
    /// <summary>0 means the resolved CA heads (MHA).</summary>
    public int CrossAttentionNKvHeads { get; init; }
    /// <summary>MoT image-modality heads; 0 = model.n_heads. One SDPA over both modalities needs them equal to the text heads.</summary>
    public int MotImageNHeads { get; init; }
    /// <summary>MoT image-modality KV heads; 0 = the text KV heads. Must equal them, as for the heads.</summary>
    public int MotImageNKvHeads { get; init; }
    /// <summary>Copy each block of a dense text stack (mot_warm_start_path) into every modality at build time.</summary>
    public bool MotWarmStartFromText { get; init; }
    /// <summary>Safetensors file of a dense (text-only or joint_decoder) state dict for the MoT warm start.</summary>
    public string MotWarmStartPath { get; init; } = "";
    /// <summary>Static freeze specs applied at build time. Default: the vision encoder is frozen.</summary>
    public IReadOnlyList<FreezeSpec> Freeze { get; init; } = [new FreezeSpec { Module = "vision_encoder", Frozen = true }];
    /// <summary>Step-boundary changes of the trainable set, in strictly increasing start_step order.</summary>
    public IReadOnlyList<FreezeStage> FreezeSchedule { get; init; } = [];

    public (int Heads, int KvHeads) ResolvedCrossAttentionHeads(int modelHeads)
    {
        var heads = CrossAttentionNHeads > 0 ? CrossAttentionNHeads : modelHeads;
        var kv = CrossAttentionNKvHeads > 0 ? CrossAttentionNKvHeads : heads;
        return (heads, kv);
    }

    /// <summary>KempnerForge's resolution: 0 means the text backbone's heads (and its KV heads).</summary>
    public (int Heads, int KvHeads) ResolvedMotImageHeads(int modelHeads, int modelKvHeads)
    {
        var heads = MotImageNHeads > 0 ? MotImageNHeads : modelHeads;
        var kv = MotImageNKvHeads > 0 ? MotImageNKvHeads : modelKvHeads > 0 ? modelKvHeads : heads;
        return (heads, kv);
    }
}

/// <summary>A freeze directive: `module` is an alias (vision_encoder, adapter, cross_attention, transformer) or a glob over parameter names.</summary>
public sealed record FreezeSpec
{
    public required string Module { get; init; }
    public bool Frozen { get; init; } = true;
}

/// <summary>Freeze specs that apply from `start_step` onward.</summary>
public sealed record FreezeStage
{
    public required long StartStep { get; init; }
    public IReadOnlyList<FreezeSpec> Specs { get; init; } = [];
}
