using Forge.Model.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>
/// Deterministic initialisation of a whole VLM from one seed, through a private generator: the
/// global torch RNG is shared by every thread of the process (several ranks or tests at once), so
/// drawing from it would make "same seed, same weights" a race. Values are drawn on the CPU in fp32
/// and copied to the parameter's device (TorchSharp 0.107 generators are CPU-only), which also makes
/// a GPU rank's weights identical to a CPU rank's.
/// Text side (Llama/KempnerForge practice): matrices and the embedding from N(0, init_std); the
/// residual-output projections of the text layers (o_proj, down_proj) scaled by 1/sqrt(2 n_layers)
/// so the residual stream's variance does not grow with depth (MoE experts' down_proj too); norms at
/// one. Cross-attention o_proj and down_proj, and MoT's per-modality o_proj and down_proj, at zero
/// (identity blocks). Vision side and adapter: torch's Linear/Conv
/// default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases; learned positions N(0, 0.02).
/// </summary>
public static class ParameterInit
{
    public static void Initialize(nn.Module model, ModelConfig config, long seed)
    {
        using var noGrad = no_grad();
        var parameters = model.named_parameters().ToList();
        using var generator = new Generator((ulong)seed);
        var shapes = parameters.ToDictionary(p => p.name, p => p.parameter.shape);
        var std = config.InitStd;
        var residualStd = std / Math.Sqrt(2.0 * config.NLayers);

        foreach (var (name, p) in parameters)
        {
            if (name.StartsWith("transformer.", StringComparison.Ordinal))
            {
                var local = name["transformer.".Length..];
                if (p.dim() == 1 && IsNorm(local)) p.fill_(1.0);
                else if (IsCrossAttentionOutput(local) || IsMotResidualOutput(local)) p.zero_();
                else if (IsTextResidualOutput(local)) Draw(p, t => t.normal_(0, residualStd, generator));
                else Draw(p, t => t.normal_(0, std, generator));
            }
            else if (name.EndsWith("position_embedding", StringComparison.Ordinal)) Draw(p, t => t.normal_(0, 0.02, generator));
            else if (p.dim() == 1 && IsLayerNorm(name)) p.fill_(name.EndsWith(".weight", StringComparison.Ordinal) ? 1.0 : 0.0);
            else
            {
                // A bias takes the fan-in of its weight, as torch's Linear and Conv2d defaults do.
                var weightShape = name.EndsWith(".bias", StringComparison.Ordinal) ? shapes[name[..^".bias".Length] + ".weight"] : p.shape;
                var fanIn = weightShape.Skip(1).Aggregate(1L, (a, b) => a * b);
                var bound = 1.0 / Math.Sqrt(fanIn);
                Draw(p, t => t.uniform_(-bound, bound, generator));
            }
        }
    }

    private static void Draw(Tensor parameter, Action<Tensor> draw)
    {
        if (parameter.device.type == DeviceType.CPU && parameter.dtype == ScalarType.Float32)
        {
            draw(parameter);
            return;
        }
        using var host = empty(parameter.shape, ScalarType.Float32, CPU);
        draw(host);
        parameter.copy_(host);
    }

    private static bool IsCrossAttentionOutput(string local) =>
        local.StartsWith("cross_attention_layers.", StringComparison.Ordinal) &&
        (local.EndsWith("attn.o_proj.weight", StringComparison.Ordinal) || local.EndsWith("mlp.down_proj.weight", StringComparison.Ordinal));

    // Dense MLPs, MoE experts and the shared expert alike (KempnerForge matches on the name's end).
    private static bool IsTextResidualOutput(string local) =>
        local.StartsWith("layers.", StringComparison.Ordinal) &&
        (local.EndsWith("o_proj.weight", StringComparison.Ordinal) || local.EndsWith("down_proj.weight", StringComparison.Ordinal));

    // MoT's per-modality residual projections (attn.o_proj.{m}, mlp.{m}.down_proj) start at zero: the block is the identity.
    private static bool IsMotResidualOutput(string local) =>
        local.StartsWith("layers.", StringComparison.Ordinal) &&
        (local.Contains(".attn.o_proj.", StringComparison.Ordinal) || (local.Contains(".mlp.", StringComparison.Ordinal) && local.EndsWith("down_proj.weight", StringComparison.Ordinal)))
        && (local.Contains(".image.", StringComparison.Ordinal) || local.Contains(".text.", StringComparison.Ordinal));

    // attention_norm.weight, attn_norm.text.weight, mot_norms.image.weight, norm.weight.
    private static bool IsNorm(string local) => local.Split('.').Any(part => part.EndsWith("norm", StringComparison.Ordinal) || part == "mot_norms");

    private static bool IsLayerNorm(string name) => name.Contains("norm.", StringComparison.Ordinal);
}
