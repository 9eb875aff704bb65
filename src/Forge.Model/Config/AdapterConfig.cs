namespace Forge.Model.Config;

/// <summary>`[adapter]`: maps vision features into the text model's width ("mlp_2layer" or "linear").</summary>
public sealed record AdapterConfig
{
    public string Type { get; init; } = "mlp_2layer";
    /// <summary>Hidden width of mlp_2layer; 0 means the output width (model.dim).</summary>
    public int HiddenDim { get; init; }
    public string Activation { get; init; } = "gelu";
}
