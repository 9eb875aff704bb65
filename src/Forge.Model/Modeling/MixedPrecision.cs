using Forge.Model.Config;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>
/// The compute dtype a run uses. TorchSharp has no autocast, so "bf16" means the model's
/// parameters and activations are bf16 while the optimizer keeps fp32 master weights. CPUs run
/// fp32: bf16 matmuls on CPU are slow and the CPU runs are the numerical reference.
/// </summary>
public static class MixedPrecision
{
    public static ScalarType ComputeDType(TrainConfig train, Device device) => train.MixedPrecision switch
    {
        TrainConfig.Bf16 => device.type == TorchSharp.DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32,
        TrainConfig.Fp32 => ScalarType.Float32,
        _ => throw new ArgumentException($"train.mixed_precision '{train.MixedPrecision}' is unknown; expected one of {string.Join(", ", TrainConfig.MixedPrecisions)}"),
    };
}
