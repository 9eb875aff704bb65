using System.Reflection;
using System.Runtime.InteropServices;

namespace Forge.Actors.Collectives.Nccl;

/// <summary>
/// Finds libnccl.so.2. The PyTorch wheel's NCCL ships only the ".so.2" name under
/// site-packages/nvidia/nccl/lib, so the default "nccl" probing never finds it: we resolve it
/// ourselves from FORGE_NCCL_LIB, LD_LIBRARY_PATH, or the loader's default search.
/// </summary>
public static class NcclLibrary
{
    internal const string Name = "nccl";

    /// <summary>The CUDA runtime, for stream queries while a collective runs (libtorch_cuda has loaded it already).</summary>
    internal const string CudaRuntimeName = "cudart";
    private static int _installed;

    /// <summary>Installs the resolver for this assembly's [DllImport("nccl")] and [DllImport("cudart")] (idempotent).</summary>
    public static void EnsureResolver()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 1) return;
        NativeLibrary.SetDllImportResolver(typeof(NcclLibrary).Assembly, Resolve);
    }

    private static IntPtr Resolve(string name, Assembly asm, DllImportSearchPath? path)
    {
        if (name == CudaRuntimeName)
        {
            // By soname: once torch has initialised CUDA the loader finds the copy already in the process.
            foreach (var candidate in new[] { "libcudart.so.13", "libcudart.so.12", "libcudart.so" })
                if (NativeLibrary.TryLoad(candidate, out var cudart)) return cudart;
            return IntPtr.Zero;
        }
        if (name != Name) return IntPtr.Zero;
        return TryLoad(out var handle, out _) ? handle : IntPtr.Zero;
    }

    /// <summary>Loads NCCL, returning where it came from, or false when no NCCL is on this host.</summary>
    public static bool TryLoad(out IntPtr handle, out string? from)
    {
        var explicitPath = Environment.GetEnvironmentVariable("FORGE_NCCL_LIB");
        if (!string.IsNullOrEmpty(explicitPath) && NativeLibrary.TryLoad(explicitPath, out handle))
        {
            from = explicitPath;
            return true;
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, "libnccl.so.2");
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out handle))
            {
                from = candidate;
                return true;
            }
        }
        if (NativeLibrary.TryLoad("libnccl.so.2", out handle))
        {
            from = "libnccl.so.2 (loader search path)";
            return true;
        }
        from = null;
        return false;
    }

    [DllImport(Name)] private static extern int ncclGetVersion(out int version);

    /// <summary>NCCL's version as "major.minor.patch", or null when NCCL cannot be loaded.</summary>
    public static string? Version()
    {
        EnsureResolver();
        if (!TryLoad(out _, out _)) return null;
        if (ncclGetVersion(out var v) != 0) return null;
        // Since 2.9 the code is major*10000 + minor*100 + patch (22809 -> 2.28.9).
        return $"{v / 10000}.{v / 100 % 100}.{v % 100}";
    }
}
