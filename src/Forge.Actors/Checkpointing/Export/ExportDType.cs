using Forge.Model.Config;
using static TorchSharp.torch;

namespace Forge.Actors.Checkpointing.Export;

/// <summary>The dtypes a consolidated export may be written in (`checkpoint.export_dtype`).</summary>
public static class ExportDType
{
    public static ScalarType Parse(string value) => value switch
    {
        CheckpointConfig.BFloat16 => ScalarType.BFloat16,
        CheckpointConfig.Float32 => ScalarType.Float32,
        _ => throw new ArgumentException($"checkpoint.export_dtype = \"{value}\": expected \"bfloat16\" or \"float32\""),
    };
}
