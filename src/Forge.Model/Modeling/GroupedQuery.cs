using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>The K/V head sharing of grouped-query attention.</summary>
public static class GroupedQuery
{
    /// <summary>
    /// Repeats each K/V head <paramref name="rep"/> times along the head axis of a (B, S, Hkv, d)
    /// tensor, so query head h reads kv head h / rep (torch's repeat_interleave order). SDPA in
    /// TorchSharp 0.107 has no enable_gqa flag, so the repeat is materialised once here.
    /// </summary>
    public static Tensor RepeatKv(Tensor kv, int rep)
    {
        if (rep == 1) return kv;
        var (b, s, h, d) = (kv.shape[0], kv.shape[1], kv.shape[2], kv.shape[3]);
        return kv.unsqueeze(3).expand(b, s, h, rep, d).reshape(b, s, h * rep, d);
    }
}
