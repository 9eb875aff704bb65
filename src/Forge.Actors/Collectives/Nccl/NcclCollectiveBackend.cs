using System.Diagnostics;
using Forge.Model.Distributed;
using Forge.Model.Runtime;

namespace Forge.Actors.Collectives.Nccl;

/// <summary>
/// NCCL for ranks on CUDA devices, through P/Invoke to libnccl.so.2. The group id is NCCL's unique
/// id (128 bytes made by rank 0's ncclGetUniqueId); communicators are created non-blocking so that
/// initialisation and every collective can be abandoned when a peer dies.
/// </summary>
public sealed class NcclCollectiveBackend : ICollectiveBackend
{
    private readonly int _device;

    /// <param name="device">The CUDA device index of the rank that joins through this backend.</param>
    public NcclCollectiveBackend(int device)
    {
        NcclLibrary.EnsureResolver();
        if (NcclLibrary.Version() is null)
            throw new InvalidOperationException("NCCL (libnccl.so.2) was not found: set FORGE_NCCL_LIB or add the nvidia-nccl lib folder to LD_LIBRARY_PATH");
        _device = device;
    }

    public string Name => "nccl";

    public unsafe byte[] CreateGroupId()
    {
        var rc = NcclNative.ncclGetUniqueId(out var id);
        if (rc != NcclNative.Success) throw new CollectiveException($"ncclGetUniqueId failed: {NcclNative.Describe(rc)}");
        return new ReadOnlySpan<byte>(id.Internal, NcclNative.UniqueId.Bytes).ToArray();
    }

    public unsafe ICollectives Join(byte[] groupId, int rank, int worldSize, TimeSpan timeout)
    {
        if (groupId.Length != NcclNative.UniqueId.Bytes)
            throw new CollectiveException($"an NCCL group id has {NcclNative.UniqueId.Bytes} bytes, got {groupId.Length} (is it a TCP group id?)");
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [0, {worldSize})");
        var id = new NcclNative.UniqueId();
        groupId.CopyTo(new Span<byte>(id.Internal, NcclNative.UniqueId.Bytes));
        // NCCL binds the communicator to the calling thread's current device.
        CudaRuntime.SetDevice(_device);
        var config = NcclNative.Config.NonBlocking();
        var rc = NcclNative.ncclCommInitRankConfig(out var comm, worldSize, id, rank, ref config);
        if (rc != NcclNative.Success && rc != NcclNative.InProgress)
            throw new CollectiveException($"rank {rank} of {worldSize}: ncclCommInitRankConfig failed: {NcclNative.Describe(rc)}");
        var clock = Stopwatch.StartNew();
        while (true)
        {
            NcclNative.ncclCommGetAsyncError(comm, out var state);
            if (state == NcclNative.Success) return new NcclCollectives(comm, rank, worldSize, timeout);
            if (state != NcclNative.InProgress || clock.Elapsed > timeout)
            {
                var reason = state != NcclNative.InProgress ? NcclNative.Describe(state, comm) : $"not every rank joined within {timeout.TotalSeconds:0.#} s";
                NcclNative.ncclCommAbort(comm);
                throw new CollectiveException($"rank {rank} of {worldSize} could not join the NCCL group: {reason}");
            }
            Thread.Sleep(1);
        }
    }
}
