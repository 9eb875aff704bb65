using System.Runtime.InteropServices;
using System.Text;

namespace Forge.Model.Runtime;

/// <summary>
/// The few CUDA runtime calls TorchSharp does not expose (device names, memory, synchronisation).
/// libcudart comes with the PyTorch install on the GPU machine; on CPU hosts these calls are never
/// reached because torch.cuda.is_available() is false first.
/// </summary>
public static unsafe class CudaRuntime
{
    private const string Lib = "cudart";

    static CudaRuntime()
    {
        NativeLibrary.SetDllImportResolver(typeof(CudaRuntime).Assembly, Resolve);
    }

    private static IntPtr Resolve(string name, System.Reflection.Assembly asm, DllImportSearchPath? path)
    {
        if (name != Lib) return IntPtr.Zero;
        foreach (var candidate in new[] { "libcudart.so.13", "libcudart.so.12", "libcudart.so" })
            if (NativeLibrary.TryLoad(candidate, out var h)) return h;
        // PyTorch wheels ship cudart under nvidia/cuda_runtime/lib, beside torch/lib in site-packages.
        foreach (var dir in (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var root = Path.GetFullPath(Path.Combine(dir, "..", ".."));
            var nvidia = Path.Combine(root, "nvidia");
            if (!Directory.Exists(nvidia)) continue;
            foreach (var d in Directory.GetDirectories(nvidia).Select(x => Path.Combine(x, "lib")).Where(Directory.Exists))
            {
                foreach (var f in Directory.GetFiles(d, "libcudart.so*"))
                    if (NativeLibrary.TryLoad(f, out var h)) return h;
            }
        }
        return IntPtr.Zero;
    }

    [DllImport(Lib)] private static extern int cudaMemGetInfo(out nuint free, out nuint total);
    [DllImport(Lib)] private static extern int cudaDeviceSynchronize();
    [DllImport(Lib)] private static extern int cudaSetDevice(int device);
    [DllImport(Lib)] private static extern int cudaHostRegister(IntPtr ptr, nuint size, uint flags);
    [DllImport(Lib)] private static extern int cudaHostUnregister(IntPtr ptr);
    [DllImport(Lib)] private static extern int cudaGetLastError();

    // cudaHostRegisterPortable: page-locked for every CUDA context, not only the calling thread's.
    private const uint HostRegisterPortable = 1;

    /// <summary>The device's marketing name, e.g. "NVIDIA H100 80GB HBM3".</summary>
    public static string DeviceName(int device)
    {
        // cudaDeviceProp starts with char name[256]; the struct is ~1 KB, we give it 4 KB of room.
        var buf = stackalloc byte[4096];
        var rc = GetDeviceProperties()(buf, device);
        if (rc != 0) throw new InvalidOperationException($"cudaGetDeviceProperties failed: {rc}");
        var len = 0;
        while (len < 256 && buf[len] != 0) len++;
        return Encoding.ASCII.GetString(buf, len);
    }

    // CUDA 12 exports cudaGetDeviceProperties_v2 (the header maps the plain name to it); CUDA 13
    // exports the plain name again. Look both up at run time so one build serves either runtime.
    private static delegate* unmanaged<byte*, int, int> GetDeviceProperties()
    {
        var handle = Resolve(Lib, typeof(CudaRuntime).Assembly, null);
        if (handle == IntPtr.Zero) throw new DllNotFoundException("libcudart was not found next to libtorch or on the loader path");
        foreach (var name in new[] { "cudaGetDeviceProperties_v2", "cudaGetDeviceProperties" })
            if (NativeLibrary.TryGetExport(handle, name, out var fn)) return (delegate* unmanaged<byte*, int, int>)fn;
        throw new EntryPointNotFoundException("cudaGetDeviceProperties");
    }

    public static (long Free, long Total) MemoryInfo()
    {
        var rc = cudaMemGetInfo(out var free, out var total);
        if (rc != 0) throw new InvalidOperationException($"cudaMemGetInfo failed: {rc}");
        return ((long)free, (long)total);
    }

    public static void Synchronize()
    {
        var rc = cudaDeviceSynchronize();
        if (rc != 0) throw new InvalidOperationException($"cudaDeviceSynchronize failed: {rc}");
    }

    public static void SetDevice(int device)
    {
        var rc = cudaSetDevice(device);
        if (rc != 0) throw new InvalidOperationException($"cudaSetDevice({device}) failed: {rc}");
    }

    /// <summary>
    /// Page-locks existing host memory so device copies into it are DMAs. False (and the CUDA error
    /// cleared) when the runtime refuses, e.g. over the locked-memory limit: callers fall back to
    /// pageable copies, slower but correct.
    /// </summary>
    public static bool TryHostRegister(IntPtr address, long bytes)
    {
        try
        {
            if (cudaHostRegister(address, (nuint)bytes, HostRegisterPortable) == 0) return true;
            cudaGetLastError();
            return false;
        }
        catch (DllNotFoundException) { return false; }
        catch (EntryPointNotFoundException) { return false; }
    }

    /// <summary>Undoes <see cref="TryHostRegister"/>; failures are ignored (the memory is being released anyway).</summary>
    public static void TryHostUnregister(IntPtr address)
    {
        try { cudaHostUnregister(address); }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }
}
