namespace Forge.Model.Optim;

/// <summary>A parameter's place in the flat layout.</summary>
public sealed record FlatParameter(string Name, long[] Shape, long Offset, long Numel);

/// <summary>
/// All trainable parameters in a fixed order, padded to a multiple of the world size: what a
/// manifest records of a <see cref="FlatParameterLayout"/>, and what checkpoints are resharded by.
/// </summary>
public sealed record FlatLayoutInfo(IReadOnlyList<FlatParameter> Parameters, long Numel, long PaddedNumel);
