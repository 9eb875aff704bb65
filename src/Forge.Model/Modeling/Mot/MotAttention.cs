using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Mot;

/// <summary>
/// Mixture-of-Transformers attention (Liang et al. 2024, KempnerForge's MoTAttention): each modality
/// has its own Q/K/V/O projections, and one SDPA runs over the concatenated [image | text] sequence,
/// causal over the whole of it (text sees every image token and earlier text; image tokens see
/// earlier image tokens). Each modality counts RoPE positions from 0 along its own axis. o_proj is
/// zero at construction so the operator adds nothing to the residual until trained.
/// </summary>
public sealed class MotAttention : nn.Module
{
    public readonly ModalityPair<Linear> q_proj;
    public readonly ModalityPair<Linear> k_proj;
    public readonly ModalityPair<Linear> v_proj;
    public readonly ModalityPair<Linear> o_proj;

    private readonly int _heads;
    private readonly int _kvHeads;
    private readonly int _headDim;

    public MotAttention(int dim, int heads, int kvHeads, Device? device = null) : base(nameof(MotAttention))
    {
        if (dim % heads != 0) throw new ArgumentException($"dim {dim} is not divisible by n_heads {heads}");
        if (heads % kvHeads != 0) throw new ArgumentException($"n_heads {heads} is not a multiple of n_kv_heads {kvHeads}");
        _heads = heads;
        _kvHeads = kvHeads;
        _headDim = dim / heads;
        q_proj = new ModalityPair<Linear>(() => nn.Linear(dim, heads * _headDim, hasBias: false, device: device));
        k_proj = new ModalityPair<Linear>(() => nn.Linear(dim, kvHeads * _headDim, hasBias: false, device: device));
        v_proj = new ModalityPair<Linear>(() => nn.Linear(dim, kvHeads * _headDim, hasBias: false, device: device));
        o_proj = new ModalityPair<Linear>(() => nn.Linear(heads * _headDim, dim, hasBias: false, device: device));
        using (no_grad())
            foreach (var m in Modalities.All) o_proj.Of(m).weight!.zero_();
        RegisterComponents();
    }

    /// <param name="image">(B, N, dim) image stream.</param>
    /// <param name="text">(B, T, dim) text stream.</param>
    /// <param name="keyPaddingMask">Optional (B, N + T) bool over [image | text], true = a valid key.</param>
    public (Tensor Image, Tensor Text) forward(Tensor image, Tensor text, RotaryEmbedding rope, Tensor? keyPaddingMask = null)
    {
        using var scope = NewDisposeScope();
        var (b, n, t) = (image.shape[0], image.shape[1], text.shape[1]);
        var (qi, ki, vi) = Project(Modalities.Image, image, rope);
        var (qt, kt, vt) = Project(Modalities.Text, text, rope);
        var q = cat([qi, qt], 1);
        var k = GroupedQuery.RepeatKv(cat([ki, kt], 1), _heads / _kvHeads);
        var v = GroupedQuery.RepeatKv(cat([vi, vt], 1), _heads / _kvHeads);

        var s = n + t;
        Tensor? mask = null;
        if (keyPaddingMask is not null)
        {
            var allowed = keyPaddingMask.view(b, 1, 1, s).logical_and(ones(s, s, ScalarType.Bool, image.device).tril());
            // A query row with no valid key would softmax over nothing: unmask it (its output is never a target).
            mask = allowed.logical_or(allowed.any(-1, keepdim: true).logical_not());
        }
        var attended = nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask: mask, is_casual: mask is null);
        var merged = attended.transpose(1, 2).reshape(b, s, _heads * _headDim);
        var imageOut = o_proj.Of(Modalities.Image).forward(merged.narrow(1, 0, n));
        var textOut = o_proj.Of(Modalities.Text).forward(merged.narrow(1, n, t));
        return (imageOut.MoveToOuterDisposeScope(), textOut.MoveToOuterDisposeScope());
    }

    private (Tensor Q, Tensor K, Tensor V) Project(string modality, Tensor x, RotaryEmbedding rope)
    {
        var (b, len) = (x.shape[0], x.shape[1]);
        var q = rope.Apply(q_proj.Of(modality).forward(x).view(b, len, _heads, _headDim));
        var k = rope.Apply(k_proj.Of(modality).forward(x).view(b, len, _kvHeads, _headDim));
        var v = v_proj.Of(modality).forward(x).view(b, len, _kvHeads, _headDim);
        return (q, k, v);
    }
}
