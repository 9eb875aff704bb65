using System.Text.RegularExpressions;

namespace Forge.Model.Pretrained;

/// <summary>
/// Parameter names of Hugging Face's LlamaForCausalLM against this project's text decoder
/// (KempnerForge's names under <c>transformer.</c>). Only the text model has HF names: the
/// cross-attention blocks, the adapter and the vision encoder are not part of LlamaForCausalLM.
/// </summary>
public static partial class HfLlamaNames
{
    public const string EmbedTokens = "model.embed_tokens.weight";
    public const string LmHead = "lm_head.weight";
    public const string ForgeOutputHead = "transformer.output_head.proj.weight";

    private static readonly (string Hf, string Forge)[] Whole =
    [
        (EmbedTokens, "transformer.token_embedding.embedding.weight"),
        ("model.norm.weight", "transformer.norm.weight"),
        (LmHead, ForgeOutputHead),
    ];

    // Inside model.layers.N. / transformer.layers.N.
    private static readonly (string Hf, string Forge)[] PerLayer =
    [
        ("self_attn.q_proj.weight", "attention.q_proj.weight"),
        ("self_attn.k_proj.weight", "attention.k_proj.weight"),
        ("self_attn.v_proj.weight", "attention.v_proj.weight"),
        ("self_attn.o_proj.weight", "attention.o_proj.weight"),
        ("mlp.gate_proj.weight", "mlp.gate_proj.weight"),
        ("mlp.up_proj.weight", "mlp.up_proj.weight"),
        ("mlp.down_proj.weight", "mlp.down_proj.weight"),
        ("input_layernorm.weight", "attention_norm.weight"),
        ("post_attention_layernorm.weight", "mlp_norm.weight"),
    ];

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(.+)$")]
    private static partial Regex HfLayer();

    [GeneratedRegex(@"^transformer\.layers\.(\d+)\.(.+)$")]
    private static partial Regex ForgeLayer();

    /// <summary>Whether a checkpoint's names are LlamaForCausalLM's rather than this project's.</summary>
    public static bool AreHfLlama(IEnumerable<string> names) => names.Any(n => n == EmbedTokens || n.StartsWith("model.layers.", StringComparison.Ordinal));

    /// <summary>This project's name for an HF Llama tensor, or null for a name LlamaForCausalLM does not have.</summary>
    public static string? ToForge(string hfName)
    {
        foreach (var (hf, forge) in Whole)
            if (hf == hfName) return forge;
        var m = HfLayer().Match(hfName);
        if (!m.Success) return null;
        foreach (var (hf, forge) in PerLayer)
            if (hf == m.Groups[2].Value) return $"transformer.layers.{m.Groups[1].Value}.{forge}";
        return null;
    }

    /// <summary>The HF Llama name of one of this project's parameters, or null for one LlamaForCausalLM has no place for.</summary>
    public static string? ToHf(string forgeName)
    {
        foreach (var (hf, forge) in Whole)
            if (forge == forgeName) return hf;
        var m = ForgeLayer().Match(forgeName);
        if (!m.Success) return null;
        foreach (var (hf, forge) in PerLayer)
            if (forge == m.Groups[2].Value) return $"model.layers.{m.Groups[1].Value}.{hf}";
        return null;
    }

    /// <summary>This project's names of every parameter LlamaForCausalLM has, for a decoder of <paramref name="layers"/> layers.</summary>
    public static IReadOnlyList<string> TextModelNames(int layers) =>
        Whole.Select(w => w.Forge)
            .Concat(Enumerable.Range(0, layers).SelectMany(i => PerLayer.Select(p => $"transformer.layers.{i}.{p.Forge}")))
            .ToList();

    /// <summary>
    /// Tensors an HF checkpoint may carry that are derived data rather than weights (old
    /// checkpoints saved the RoPE inverse frequencies): skipped without being a mismatch.
    /// </summary>
    public static bool IsDerivedBuffer(string hfName) => hfName.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);
}
