using Forge.Model.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Mot;

/// <summary>
/// KempnerForge's mot_warm_start_from_text_stack: every dense decoder block of a text-only or
/// joint-decoder state dict is copied into each modality's copy of the matching MoT block
/// (layers.i.attention.q_proj.weight to layers.i.attn.q_proj.{image,text}.weight, attention_norm to
/// attn_norm, mlp.{gate,up,down}_proj to mlp.{m}.*, and norm.weight to mot_norms.{m}), so an MoT model
/// starts as the dense model on both modalities. Keys may carry the "transformer." prefix or not.
/// Keys the source lacks are left as they are (KempnerForge's rule); a shape mismatch is an error.
/// </summary>
public static class MotWarmStart
{
    /// <returns>How many parameters were copied.</returns>
    public static int FromTextStack(TextDecoder decoder, string path)
    {
        using var reader = new SafetensorsReader(path);
        var names = reader.Entries.Select(e => e.Name).ToDictionary(n => n.StartsWith("transformer.", StringComparison.Ordinal) ? n["transformer.".Length..] : n, n => n, StringComparer.Ordinal);
        return FromTextStack(decoder, key => names.TryGetValue(key, out var name) ? reader.Read(name) : null, path);
    }

    /// <param name="source">Returns the dense tensor under a decoder-local key, or null when the source has none.</param>
    public static int FromTextStack(TextDecoder decoder, Func<string, Tensor?> source, string sourceName)
    {
        if (!decoder.IsMixtureOfTransformers) throw new ArgumentException("vlm.mot_warm_start_from_text needs vlm.arch = \"mot\"");
        var targets = decoder.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        var copied = 0;
        using var noGrad = no_grad();
        foreach (var (from, to) in Translations(decoder.layers.Count))
        {
            using var scope = NewDisposeScope();
            var dense = source(from);
            if (dense is null) continue;
            foreach (var modality in Modalities.All)
            {
                var name = to(modality);
                var target = targets[name];
                if (!dense.shape.SequenceEqual(target.shape))
                    throw new ArgumentException($"{sourceName}: '{from}' has shape [{string.Join(", ", dense.shape)}] but transformer.{name} is [{string.Join(", ", target.shape)}]");
                target.copy_(dense.to(target.dtype, target.device));
                copied++;
            }
        }
        return copied;
    }

    private static IEnumerable<(string From, Func<string, string> To)> Translations(int layers)
    {
        for (var i = 0; i < layers; i++)
        {
            var l = $"layers.{i}";
            yield return ($"{l}.attention_norm.weight", m => $"{l}.attn_norm.{m}.weight");
            foreach (var proj in new[] { "q_proj", "k_proj", "v_proj", "o_proj" })
                yield return ($"{l}.attention.{proj}.weight", m => $"{l}.attn.{proj}.{m}.weight");
            yield return ($"{l}.mlp_norm.weight", m => $"{l}.mlp_norm.{m}.weight");
            foreach (var proj in new[] { "gate_proj", "up_proj", "down_proj" })
                yield return ($"{l}.mlp.{proj}.weight", m => $"{l}.mlp.{m}.{proj}.weight");
        }
        yield return ("norm.weight", m => $"mot_norms.{m}.weight");
    }
}
