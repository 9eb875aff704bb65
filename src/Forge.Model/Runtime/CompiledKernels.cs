using System.Runtime.InteropServices;
using System.Text;

namespace Forge.Model.Runtime;

/// <summary>
/// CUDA C kernels compiled at run time with NVRTC and launched through the driver API, for fused
/// operations TorchSharp has no binding for. NVRTC comes from the machine's CUDA (the PyTorch
/// wheels ship it under site-packages/nvidia/*/lib); the driver from the NVIDIA driver install.
/// Kernels are compiled once per process for the device's own architecture and launched on the
/// legacy default stream, the stream TorchSharp queues its work on, so they are ordered after the
/// ops that produced their inputs without any synchronisation.
/// </summary>
public sealed unsafe class CompiledKernels
{
    /// <summary>
    /// bfloat16 &lt;-&gt; float for kernel sources (bf16 travels as unsigned short): widening is exact, narrowing
    /// rounds to nearest even as torch's conversion does, and a NaN stays a quiet NaN.
    /// </summary>
    public const string Bf16Conversions = """
        __device__ __forceinline__ float bf16_to_float(unsigned short h) { return __uint_as_float(((unsigned int)h) << 16); }

        __device__ __forceinline__ unsigned short float_to_bf16(float f)
        {
            unsigned int u = __float_as_uint(f);
            if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);
            u += 0x7fffu + ((u >> 16) & 1u);
            return (unsigned short)(u >> 16);
        }

        """;

    private readonly Dictionary<string, IntPtr> _functions;
    private readonly IntPtr _context;

    /// <summary>The device's multiprocessor count, for sizing grid-stride launches.</summary>
    public int MultiprocessorCount { get; }

    private CompiledKernels(Dictionary<string, IntPtr> functions, IntPtr context, int multiprocessors) =>
        (_functions, _context, MultiprocessorCount) = (functions, context, multiprocessors);

    /// <summary>
    /// Compiles <paramref name="source"/> (extern "C" kernels named in <paramref name="names"/>) for
    /// the current CUDA device. Throws <see cref="InvalidOperationException"/> with NVRTC's log on a
    /// compile error, and <see cref="DllNotFoundException"/> when NVRTC or the driver is missing.
    /// </summary>
    public static CompiledKernels Compile(string source, IReadOnlyList<string> names)
    {
        Check(Driver.cuInit(0), "cuInit");
        // TorchSharp's first CUDA op made the device's primary context current on this thread; the
        // kernels' module is loaded into that context so they run beside torch's own kernels.
        Check(Driver.cuCtxGetCurrent(out var context), "cuCtxGetCurrent");
        if (context == IntPtr.Zero) throw new InvalidOperationException("no CUDA context is current on this thread: run a CUDA tensor op first");
        Check(Driver.cuCtxGetDevice(out var device), "cuCtxGetDevice");
        Check(Driver.cuDeviceGetAttribute(out var major, 75, device), "cuDeviceGetAttribute(major)");
        Check(Driver.cuDeviceGetAttribute(out var minor, 76, device), "cuDeviceGetAttribute(minor)");
        Check(Driver.cuDeviceGetAttribute(out var sms, 16, device), "cuDeviceGetAttribute(multiprocessors)");

        var cubin = Nvrtc.CompileToCubin(source, $"sm_{major}{minor}");
        IntPtr module;
        fixed (byte* image = cubin) Check(Driver.cuModuleLoadData(out module, image), "cuModuleLoadData");
        var functions = new Dictionary<string, IntPtr>();
        foreach (var name in names)
        {
            Check(Driver.cuModuleGetFunction(out var fn, module, name), $"cuModuleGetFunction({name})");
            functions[name] = fn;
        }
        return new CompiledKernels(functions, context, sms);
    }

    /// <summary>
    /// Queues kernel <paramref name="name"/> on the legacy default stream. <paramref name="args"/>
    /// points to the kernel's arguments, each a pointer to its value, in declaration order.
    /// </summary>
    public void Launch(string name, uint grid, uint block, void** args)
    {
        // A custom autograd function's backward runs on libtorch's worker thread for the device, which
        // may not have made the primary context current through the driver API yet.
        Check(Driver.cuCtxGetCurrent(out var current), "cuCtxGetCurrent");
        if (current != _context) Check(Driver.cuCtxSetCurrent(_context), "cuCtxSetCurrent");
        Check(Driver.cuLaunchKernel(_functions[name], grid, 1, 1, block, 1, 1, 0, IntPtr.Zero, args, null), $"cuLaunchKernel({name})");
    }

    private static void Check(int rc, string what)
    {
        if (rc == 0) return;
        Driver.cuGetErrorString(rc, out var text);
        throw new InvalidOperationException($"{what} failed: CUDA error {rc} ({Marshal.PtrToStringAnsi(text) ?? "unknown"})");
    }

    private static class Driver
    {
        private const string Lib = "libcuda.so.1";
        [DllImport(Lib)] public static extern int cuInit(uint flags);
        [DllImport(Lib)] public static extern int cuCtxGetCurrent(out IntPtr context);
        [DllImport(Lib)] public static extern int cuCtxSetCurrent(IntPtr context);
        [DllImport(Lib)] public static extern int cuCtxGetDevice(out int device);
        [DllImport(Lib)] public static extern int cuDeviceGetAttribute(out int value, int attribute, int device);
        [DllImport(Lib)] public static extern int cuModuleLoadData(out IntPtr module, byte* image);
        [DllImport(Lib)] public static extern int cuModuleGetFunction(out IntPtr function, IntPtr module, [MarshalAs(UnmanagedType.LPStr)] string name);
        [DllImport(Lib)] public static extern int cuLaunchKernel(IntPtr f, uint gx, uint gy, uint gz, uint bx, uint by, uint bz, uint sharedBytes, IntPtr stream, void** args, void** extra);
        [DllImport(Lib)] public static extern int cuGetErrorString(int error, out IntPtr text);
    }

    private static class Nvrtc
    {
        private static readonly Lazy<IntPtr> Handle = new(Load);

        public static byte[] CompileToCubin(string source, string arch)
        {
            var h = Handle.Value;
            var create = (delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int>)Export(h, "nvrtcCreateProgram");
            var compile = (delegate* unmanaged<IntPtr, int, byte**, int>)Export(h, "nvrtcCompileProgram");
            var logSize = (delegate* unmanaged<IntPtr, nuint*, int>)Export(h, "nvrtcGetProgramLogSize");
            var log = (delegate* unmanaged<IntPtr, byte*, int>)Export(h, "nvrtcGetProgramLog");
            var cubinSize = (delegate* unmanaged<IntPtr, nuint*, int>)Export(h, "nvrtcGetCUBINSize");
            var getCubin = (delegate* unmanaged<IntPtr, byte*, int>)Export(h, "nvrtcGetCUBIN");
            var destroy = (delegate* unmanaged<IntPtr*, int>)Export(h, "nvrtcDestroyProgram");

            var src = Encoding.ASCII.GetBytes(source + "\0");
            var name = "forge_kernels.cu\0"u8.ToArray();
            var options = new[] { $"--gpu-architecture={arch}", "--std=c++17", "-default-device" }
                .Select(o => Encoding.ASCII.GetBytes(o + "\0")).ToArray();
            IntPtr program;
            fixed (byte* s = src, n = name)
            {
                var rc = create(&program, s, n, 0, null, null);
                if (rc != 0) throw new InvalidOperationException($"nvrtcCreateProgram failed: {rc}");
            }
            try
            {
                var handles = options.Select(o => GCHandle.Alloc(o, GCHandleType.Pinned)).ToArray();
                int compiled;
                try
                {
                    var pointers = stackalloc byte*[options.Length];
                    for (var i = 0; i < options.Length; i++) pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
                    compiled = compile(program, options.Length, pointers);
                }
                finally
                {
                    foreach (var handle in handles) handle.Free();
                }
                if (compiled != 0)
                {
                    nuint size;
                    logSize(program, &size);
                    var text = new byte[(int)size];
                    fixed (byte* t = text) log(program, t);
                    throw new InvalidOperationException($"NVRTC could not compile the fused kernels for {arch} (error {compiled}): {Encoding.ASCII.GetString(text).TrimEnd('\0')}");
                }
                nuint bytes;
                cubinSize(program, &bytes);
                var cubin = new byte[(int)bytes];
                fixed (byte* c = cubin) getCubin(program, c);
                return cubin;
            }
            finally
            {
                destroy(&program);
            }
        }

        private static IntPtr Export(IntPtr handle, string name) =>
            NativeLibrary.TryGetExport(handle, name, out var fn) ? fn : throw new EntryPointNotFoundException($"{name} is not exported by libnvrtc");

        // NVRTC: the loader path first, then the nvidia/*/lib folders of the PyTorch install beside
        // FORGE_LIBTORCH_DIR or LD_LIBRARY_PATH entries (site-packages/torch/lib).
        private static IntPtr Load()
        {
            string[] names = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"];
            foreach (var n in names)
                if (NativeLibrary.TryLoad(n, out var h)) return h;
            var dirs = new[] { Environment.GetEnvironmentVariable("FORGE_LIBTORCH_DIR") ?? "" }
                .Concat((Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "").Split(':'))
                .Where(d => d.Length > 0);
            foreach (var dir in dirs)
            {
                var nvidia = Path.GetFullPath(Path.Combine(dir, "..", "..", "nvidia"));
                if (!Directory.Exists(nvidia)) continue;
                foreach (var lib in Directory.GetDirectories(nvidia).Select(d => Path.Combine(d, "lib")).Where(Directory.Exists))
                    foreach (var file in Directory.GetFiles(lib, "libnvrtc.so*").Where(f => !f.Contains("builtins")).Order())
                        if (NativeLibrary.TryLoad(file, out var h)) return h;
            }
            throw new DllNotFoundException("libnvrtc was found neither on the loader path nor under the PyTorch install's nvidia/*/lib");
        }
    }
}
