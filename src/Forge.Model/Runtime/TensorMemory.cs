using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Forge.Model.Runtime;

/// <summary>
/// Raw access to a tensor's elements for the collective backends and the run-time compiled kernels. TorchSharp's typed accessors
/// throw for bfloat16, while LibTorchSharp's exported THSTensor_data returns the first element's
/// address (storage offset included) for every dtype and device.
/// </summary>
public static class TensorMemory
{
    [DllImport("LibTorchSharp")] private static extern IntPtr THSTensor_data(IntPtr handle);

    /// <summary>Address of the first element; the tensor must stay alive and unmoved while it is used.</summary>
    public static IntPtr DataPointer(Tensor tensor) => THSTensor_data(tensor.Handle);

    public static long ByteCount(Tensor tensor) => tensor.numel() * tensor.element_size();
}
