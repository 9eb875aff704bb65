using System.Runtime.InteropServices;

namespace Forge.Model.Runtime;

/// <summary>
/// The CUDA caching allocator's own byte counts, as torch.cuda.memory_allocated and
/// max_memory_allocated report them: bytes held by live tensors, not the allocator's cache and not
/// the CUDA context (cudaMemGetInfo counts both). TorchSharp 0.107 binds none of the allocator's
/// statistics, so they are read through c10's allocator interface:
/// <c>c10::GetAllocator(CUDA)</c> (exported by libc10) returns the caching allocator, a
/// <c>c10::DeviceAllocator</c>, whose virtual <c>getDeviceStats</c> and <c>resetPeakStats</c> are
/// called through its vtable. Their slots (9 and 11) were read off libtorch 2.10's
/// <c>DeviceAllocator</c> vtable: six <c>Allocator</c> slots (two destructors, allocate,
/// is_simple_data_ptr, raw_deleter, copy_data), then initialized, emptyCache, recordStream,
/// getDeviceStats, resetAccumulatedStats, resetPeakStats, getMemoryInfo.
/// Because a libtorch with another layout would return garbage, <see cref="TryOpen"/> proves the
/// reading first: allocating a 1 MiB tensor must raise the allocated bytes by exactly 1 MiB and
/// freeing it must lower them back. Anything else makes it report why and return null.
/// </summary>
public sealed unsafe class CudaAllocatorStats
{
    private const int GetDeviceStatsSlot = 9;
    private const int ResetPeakStatsSlot = 11;

    // DeviceStats: nine StatArrays (3 pools x {current, peak, allocated, freed} int64, 96 bytes) in
    // the order allocation, segment, active, inactive_split, allocated_bytes, reserved_bytes, ...;
    // pool 0 is the aggregate. The struct is under 1 KB; the buffer leaves room for growth.
    private const int StatsBufferBytes = 4096;
    private const int AllocatedBytesOffset = 4 * 96;
    private const int ReservedBytesOffset = 5 * 96;

    private readonly IntPtr _allocator;
    private readonly sbyte _device;

    private CudaAllocatorStats(IntPtr allocator, sbyte device) => (_allocator, _device) = (allocator, device);

    /// <summary>Bytes held by live tensors now (torch.cuda.memory_allocated).</summary>
    public long AllocatedBytes => Read(AllocatedBytesOffset);

    /// <summary>The most bytes held by live tensors since the last <see cref="ResetPeak"/> (torch.cuda.max_memory_allocated).</summary>
    public long PeakAllocatedBytes => Read(AllocatedBytesOffset + 8);

    /// <summary>Bytes the allocator holds from the device, cache included (torch.cuda.memory_reserved).</summary>
    public long ReservedBytes => Read(ReservedBytesOffset);

    /// <summary>Starts a new peak at the current allocation (torch.cuda.reset_peak_memory_stats).</summary>
    public void ResetPeak()
    {
        var fn = (delegate* unmanaged<IntPtr, sbyte, void>)Slot(ResetPeakStatsSlot);
        fn(_allocator, _device);
    }

    /// <summary>
    /// The statistics of CUDA device <paramref name="device"/>, checked against a known allocation;
    /// null with <paramref name="why"/> set when they cannot be read on this libtorch.
    /// </summary>
    public static CudaAllocatorStats? TryOpen(int device, out string why)
    {
        try
        {
            var c10 = LoadC10();
            if (!NativeLibrary.TryGetExport(c10, "_ZN3c1012GetAllocatorERKNS_10DeviceTypeE", out var getAllocator))
            {
                why = "libc10 exports no c10::GetAllocator";
                return null;
            }
            sbyte cudaType = 1; // c10::DeviceType::CUDA
            var allocator = ((delegate* unmanaged<sbyte*, IntPtr>)getAllocator)(&cudaType);
            if (allocator == IntPtr.Zero)
            {
                why = "no CUDA allocator is registered (CUDA not initialised?)";
                return null;
            }
            var stats = new CudaAllocatorStats(allocator, (sbyte)device);
            why = stats.Verify() ?? "";
            return why.Length == 0 ? stats : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
        {
            why = e.Message;
            return null;
        }
    }

    private string? Verify()
    {
        const long probe = 1 << 20;
        var device = new TorchSharp.torch.Device(TorchSharp.DeviceType.CUDA, _device);
        // The allocator initialises its per-device state at the first allocation and throws a C++
        // exception (which cannot be caught here) when asked for statistics before that.
        using var first = TorchSharp.torch.empty(1, TorchSharp.torch.ScalarType.Byte, device);
        var before = AllocatedBytes;
        long during;
        using (var t = TorchSharp.torch.empty(probe, TorchSharp.torch.ScalarType.Byte, device))
            during = AllocatedBytes;
        var after = AllocatedBytes;
        return during - before == probe && after == before && PeakAllocatedBytes >= during
            ? null
            : $"allocator statistics did not track a 1 MiB tensor (allocated {before} -> {during} -> {after} bytes): this libtorch's allocator layout differs from 2.10's";
    }

    private long Read(int offset)
    {
        var buffer = stackalloc byte[StatsBufferBytes];
        // A member function returning a struct in memory: the return slot comes first, then `this` (Itanium C++ ABI).
        var fn = (delegate* unmanaged<byte*, IntPtr, sbyte, byte*>)Slot(GetDeviceStatsSlot);
        fn(buffer, _allocator, _device);
        return *(long*)(buffer + offset);
    }

    private IntPtr Slot(int index) => (*(IntPtr**)_allocator)[index];

    private static IntPtr LoadC10()
    {
        var dir = Environment.GetEnvironmentVariable("FORGE_LIBTORCH_DIR");
        if (!string.IsNullOrEmpty(dir) && NativeLibrary.TryLoad(Path.Combine(dir, "libc10.so"), out var h)) return h;
        if (NativeLibrary.TryLoad("libc10.so", out h)) return h;
        throw new DllNotFoundException("libc10.so was found neither in FORGE_LIBTORCH_DIR nor on the loader path");
    }
}
