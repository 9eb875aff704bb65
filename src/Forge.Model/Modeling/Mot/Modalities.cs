namespace Forge.Model.Modeling.Mot;

/// <summary>
/// KempnerForge's MoT modality keys, in its sequence order: image tokens first, then text. They are
/// the last segment of every per-modality parameter name (attn.q_proj.image.weight, mlp.text.*).
/// </summary>
public static class Modalities
{
    public const string Image = "image";
    public const string Text = "text";

    public static readonly IReadOnlyList<string> All = [Image, Text];
}
