using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Forge.Actors.Collectives.Nccl;

/// <summary>The slice of nccl.h (and one CUDA runtime call) the NCCL backend uses.</summary>
internal static unsafe class NcclNative
{
    public const int Success = 0;
    public const int InProgress = 7;
    public const int SumOp = 0;
    public const int CudaErrorNotReady = 600;

    /// <summary>ncclUniqueId: 128 opaque bytes, passed BY VALUE to ncclCommInitRank*.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct UniqueId
    {
        public const int Bytes = 128;
        public fixed byte Internal[Bytes];
    }

    /// <summary>
    /// The ncclConfig_t prefix of NCCL 2.14 (through netName). NCCL reads only `size` bytes of the
    /// struct it is given and fills later fields with defaults, so this prefix works on newer NCCLs.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Config
    {
        public nuint Size;
        public uint Magic;
        public uint Version;
        public int Blocking;
        public int CgaClusterSize;
        public int MinCTAs;
        public int MaxCTAs;
        public IntPtr NetName;

        private const int Undefined = int.MinValue;

        /// <summary>NCCL_CONFIG_INITIALIZER with blocking = 0: calls return at once and report through ncclCommGetAsyncError.</summary>
        public static Config NonBlocking() => new()
        {
            Size = (nuint)sizeof(Config),
            Magic = 0xcafebeef,
            Version = 21400,
            Blocking = 0,
            CgaClusterSize = Undefined,
            MinCTAs = Undefined,
            MaxCTAs = Undefined,
            NetName = IntPtr.Zero,
        };
    }

    [DllImport(NcclLibrary.Name)] public static extern int ncclGetUniqueId(out UniqueId uniqueId);
    [DllImport(NcclLibrary.Name)] public static extern int ncclCommInitRankConfig(out IntPtr comm, int nranks, UniqueId commId, int rank, ref Config config);
    [DllImport(NcclLibrary.Name)] public static extern int ncclCommGetAsyncError(IntPtr comm, out int asyncError);
    [DllImport(NcclLibrary.Name)] public static extern int ncclCommAbort(IntPtr comm);
    [DllImport(NcclLibrary.Name)] public static extern IntPtr ncclGetErrorString(int result);
    [DllImport(NcclLibrary.Name)] public static extern IntPtr ncclGetLastError(IntPtr comm);

    [DllImport(NcclLibrary.Name)]
    public static extern int ncclReduceScatter(IntPtr sendbuff, IntPtr recvbuff, nuint recvcount, int datatype, int op, IntPtr comm, IntPtr stream);

    [DllImport(NcclLibrary.Name)]
    public static extern int ncclAllGather(IntPtr sendbuff, IntPtr recvbuff, nuint sendcount, int datatype, IntPtr comm, IntPtr stream);

    [DllImport(NcclLibrary.Name)]
    public static extern int ncclAllReduce(IntPtr sendbuff, IntPtr recvbuff, nuint count, int datatype, int op, IntPtr comm, IntPtr stream);

    [DllImport(NcclLibrary.Name)]
    public static extern int ncclBroadcast(IntPtr sendbuff, IntPtr recvbuff, nuint count, int datatype, int root, IntPtr comm, IntPtr stream);

    /// <summary>cudaSuccess when all work queued on the stream has finished, cudaErrorNotReady while some runs.</summary>
    [DllImport(NcclLibrary.CudaRuntimeName)] public static extern int cudaStreamQuery(IntPtr stream);

    /// <summary>ncclDataType_t for a torch dtype.</summary>
    public static int DataType(ScalarType dtype) => dtype switch
    {
        ScalarType.Int8 => 0,
        ScalarType.Byte => 1,
        ScalarType.Int32 => 2,
        ScalarType.Int64 => 4,
        ScalarType.Float16 => 6,
        ScalarType.Float32 => 7,
        ScalarType.Float64 => 8,
        ScalarType.BFloat16 => 9,
        _ => throw new ArgumentException($"NCCL has no data type for {dtype}"),
    };

    public static string Describe(int result, IntPtr comm = default)
    {
        var text = Marshal.PtrToStringAnsi(ncclGetErrorString(result)) ?? $"error {result}";
        var last = comm == IntPtr.Zero ? null : Marshal.PtrToStringAnsi(ncclGetLastError(comm));
        return string.IsNullOrEmpty(last) ? $"{text} ({result})" : $"{text} ({result}): {last}";
    }
}
