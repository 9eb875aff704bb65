using static TorchSharp.torch;

namespace Forge.Model.Safetensors;

/// <summary>The safetensors dtype codes this project reads and writes, and their torch types.</summary>
public static class SafetensorsDType
{
    private static readonly (string Code, ScalarType Type, int Size)[] Known =
    [
        ("F32", ScalarType.Float32, 4),
        ("BF16", ScalarType.BFloat16, 2),
        ("F16", ScalarType.Float16, 2),
        ("F64", ScalarType.Float64, 8),
        ("I64", ScalarType.Int64, 8),
        ("I32", ScalarType.Int32, 4),
        ("BOOL", ScalarType.Bool, 1),
    ];

    public static string CodeOf(ScalarType type)
    {
        foreach (var k in Known)
            if (k.Type == type) return k.Code;
        throw new NotSupportedException($"safetensors: tensor dtype {type} is not supported; expected one of {string.Join(", ", Known.Select(k => k.Type))}");
    }

    public static ScalarType TypeOf(string code, string tensorName, string path)
    {
        foreach (var k in Known)
            if (k.Code == code) return k.Type;
        throw new InvalidDataException($"{path}: tensor '{tensorName}' has dtype '{code}'; expected one of {string.Join(", ", Known.Select(k => k.Code))}");
    }

    public static int SizeOf(ScalarType type)
    {
        foreach (var k in Known)
            if (k.Type == type) return k.Size;
        throw new NotSupportedException($"safetensors: tensor dtype {type} is not supported");
    }
}
