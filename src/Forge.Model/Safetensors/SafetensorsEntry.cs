using static TorchSharp.torch;

namespace Forge.Model.Safetensors;

/// <summary>One tensor's header record: dtype, shape and byte range inside the data section.</summary>
public sealed record SafetensorsEntry(string Name, ScalarType DType, long[] Shape, long Begin, long End)
{
    public long Numel => Shape.Aggregate(1L, (a, b) => a * b);
    public string ShapeText => $"[{string.Join(", ", Shape)}]";
}
