using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Forge.Model.Runtime;

/// <summary>What <see cref="TorchRuntime.Probe"/> found about the loaded libtorch.</summary>
public sealed record TorchReport(
    string Backend,
    bool Loaded,
    string? TorchSharpVersion,
    string? LibTorchVersion,
    bool CudaAvailable,
    IReadOnlyList<string> CudaDevices,
    string? Error,
    string? Fix);

/// <summary>
/// Loads libtorch once per process and explains load failures. TorchSharp's own exceptions for a
/// missing GLIBCXX symbol or an absent libtorch are long and generic; users need the cause and the
/// fix in one line, so the probe inspects the exception chain and names them.
/// </summary>
public static class TorchRuntime
{
    /// <summary>The torch backend this build was compiled for (the TorchBackend build property).</summary>
    public const string Backend =
#if TORCH_BACKEND_SYSTEM
        "system";
#elif TORCH_BACKEND_CUDA
        "cuda";
#else
        "cpu";
#endif

    private static readonly object Gate = new();
    private static TorchReport? _report;

    /// <summary>Loads libtorch (if not yet loaded) and reports what was found. Never throws.</summary>
    public static TorchReport Probe()
    {
        lock (Gate)
        {
            return _report ??= ProbeOnce();
        }
    }

    /// <summary>Loads libtorch or throws an <see cref="InvalidOperationException"/> naming cause and fix.</summary>
    public static void EnsureLoaded()
    {
        var report = Probe();
        if (!report.Loaded)
            throw new InvalidOperationException($"libtorch could not be loaded ({Backend} backend): {report.Error}. Fix: {report.Fix}");
    }

    private static TorchReport ProbeOnce()
    {
        var tsVersion = typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                        ?? typeof(torch).Assembly.GetName().Version?.ToString();
        try
        {
            PreloadSystemLibTorch();
            var cuda = torch.cuda.is_available();
            var devices = new List<string>();
            if (cuda)
            {
                var n = torch.cuda.device_count();
                for (var i = 0; i < n; i++) devices.Add(CudaDeviceName(i));
            }
            // __version__ is the libtorch TorchSharp was built against; the loaded library may differ
            // on the system backend, so we read the actual library's version when we can.
            var libVersion = LoadedLibTorchVersion() ?? torch.__version__;
            return new TorchReport(Backend, true, tsVersion, libVersion, cuda, devices, null, null);
        }
        catch (Exception e)
        {
            var (cause, fix) = Explain(e);
            return new TorchReport(Backend, false, tsVersion, null, false, [], cause, fix);
        }
    }

    /// <summary>
    /// On the system backend, libtorch lives in a PyTorch install. FORGE_LIBTORCH_DIR names that
    /// folder explicitly; otherwise LD_LIBRARY_PATH must already contain it.
    /// </summary>
    private static void PreloadSystemLibTorch()
    {
        var dir = Environment.GetEnvironmentVariable("FORGE_LIBTORCH_DIR");
        if (string.IsNullOrEmpty(dir)) return;
        if (!Directory.Exists(dir))
            throw new DirectoryNotFoundException($"FORGE_LIBTORCH_DIR={dir} does not exist");
        foreach (var name in new[] { "libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so" })
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path)) NativeLibrary.Load(path);
        }
    }

    private static string? LoadedLibTorchVersion()
    {
        // PyTorch installs carry a version.txt-free layout; the python package records it in version.py.
        var dir = Environment.GetEnvironmentVariable("FORGE_LIBTORCH_DIR");
        if (string.IsNullOrEmpty(dir)) return null;
        var versionPy = Path.Combine(dir, "..", "version.py");
        if (!File.Exists(versionPy)) return null;
        var line = File.ReadLines(versionPy).FirstOrDefault(l => l.StartsWith("__version__"));
        return line?.Split('=', 2)[1].Trim().Trim('\'', '"');
    }

    private static string CudaDeviceName(int index)
    {
        try
        {
            return $"cuda:{index} {CudaRuntime.DeviceName(index)}";
        }
        catch (Exception e)
        {
            return $"cuda:{index} (name unavailable: {e.Message})";
        }
    }

    internal static (string Cause, string Fix) Explain(Exception e)
    {
        var text = string.Join(" | ", Chain(e).Select(x => x.Message));
        if (text.Contains("GLIBCXX_3.4.32", StringComparison.Ordinal) || text.Contains("GLIBCXX", StringComparison.Ordinal))
            return ($"the system libstdc++ is too old (TorchSharp 0.107 needs GLIBCXX_3.4.32, GCC 13+): {text}",
                    "run scripts/setup.sh, which installs Debian 13's libstdc++6 on Debian 12");
        if (Backend == "system")
            return ($"libtorch was not found: {text}",
                    "point LD_LIBRARY_PATH (or FORGE_LIBTORCH_DIR) at a PyTorch install's torch/lib, e.g. " +
                    "LD_LIBRARY_PATH=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')/lib");
        return (text, "rebuild with the default cpu backend (dotnet build -p:TorchBackend=cpu) and run scripts/setup.sh");
    }

    private static IEnumerable<Exception> Chain(Exception? e)
    {
        for (; e is not null; e = e.InnerException) yield return e;
    }
}
