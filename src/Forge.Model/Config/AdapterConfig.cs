namespace Forge.Model.Config;

/// <summary>`[adapter]`: maps vision features into the text model's width ("mlp_2layer" or "linear").</summary>
public sealed record AdapterConfig
{
    public const string Mlp2Layer = "mlp_2layer";
    public const string Linear = "linear";
    /// <summary>The `type` names: validation accepts exactly these and VisionAdapter.Create builds each.</summary>
    public static IReadOnlyList<string> Types { get; } = [Mlp2Layer, Linear];

    public const string Gelu = "gelu";
    public const string Silu = "silu";
    public const string Relu = "relu";
    /// <summary>The `activation` names of mlp_2layer.</summary>
    public static IReadOnlyList<string> Activations { get; } = [Gelu, Silu, Relu];

    public string Type { get; init; } = Mlp2Layer;
    /// <summary>Hidden width of mlp_2layer; 0 means the output width (model.dim).</summary>
    public int HiddenDim { get; init; }
    public string Activation { get; init; } = Gelu;
}
