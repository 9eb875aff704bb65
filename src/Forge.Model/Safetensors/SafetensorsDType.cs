using static TorchSharp.torch;

namespace Forge.Model.Safetensors;

/// <summary>
/// The safetensors dtype codes this project reads and writes, and their torch types: every dtype a
/// checkpoint or a mask can hold. The 8-bit floats (F8_E4M3, F8_E5M2) are refused by name: TorchSharp
/// 0.107 has no tensor type for them, and a silent reinterpretation would load garbage.
/// </summary>
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
        ("I16", ScalarType.Int16, 2),
        ("I8", ScalarType.Int8, 1),
        ("U8", ScalarType.Byte, 1),
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
        if (code.StartsWith("F8", StringComparison.Ordinal))
            throw new InvalidDataException($"{path}: tensor '{tensorName}' has dtype '{code}', an 8-bit float this reader cannot hold (TorchSharp has no such tensor type); " +
                                           $"convert the file to BF16, F16 or F32, or leave the tensor out with checkpoint.exclude_from_loading");
        throw new InvalidDataException($"{path}: tensor '{tensorName}' has dtype '{code}'; expected one of {string.Join(", ", Known.Select(k => k.Code))}");
    }

    public static int SizeOf(ScalarType type)
    {
        foreach (var k in Known)
            if (k.Type == type) return k.Size;
        throw new NotSupportedException($"safetensors: tensor dtype {type} is not supported");
    }
}
