using Forge.Model.Runtime;
using System.Diagnostics;
using Forge.Model.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Actors.Collectives.Nccl;

/// <summary>
/// One NCCL communicator in non-blocking mode. Collectives go on the legacy default stream (stream 0),
/// which orders them after TorchSharp's kernels with no events. Each call then waits for the stream
/// while polling ncclCommGetAsyncError, the abort flag and a deadline: a dead peer shows up as an
/// async error or a deadline, and the communicator is aborted rather than left hanging in a kernel.
/// </summary>
internal sealed class NcclCollectives : ICollectives
{
    private readonly object _gate = new();
    private readonly TimeSpan _timeout;
    private IntPtr _comm;
    private volatile string? _abortRequest;
    private string? _failure;

    public NcclCollectives(IntPtr comm, int rank, int worldSize, TimeSpan timeout)
    {
        _comm = comm;
        Rank = rank;
        WorldSize = worldSize;
        _timeout = timeout;
    }

    public int Rank { get; }
    public int WorldSize { get; }

    public void ReduceScatter(Tensor input, Tensor output)
    {
        Require(input, "reduce-scatter input");
        Require(output, "reduce-scatter output");
        if (input.dtype != output.dtype || input.numel() != output.numel() * WorldSize)
            throw new ArgumentException($"reduce-scatter needs input of world size {WorldSize} x output elements in one dtype, got {input.numel()} {input.dtype} and {output.numel()} {output.dtype}");
        Run("reduce-scatter", comm => NcclNative.ncclReduceScatter(
            TensorMemory.DataPointer(input), TensorMemory.DataPointer(output), (nuint)output.numel(), NcclNative.DataType(input.dtype), NcclNative.SumOp, comm, IntPtr.Zero));
    }

    public void AllGather(Tensor input, Tensor output)
    {
        Require(input, "all-gather input");
        Require(output, "all-gather output");
        if (input.dtype != output.dtype || output.numel() != input.numel() * WorldSize)
            throw new ArgumentException($"all-gather needs output of world size {WorldSize} x input elements in one dtype, got {output.numel()} {output.dtype} and {input.numel()} {input.dtype}");
        Run("all-gather", comm => NcclNative.ncclAllGather(
            TensorMemory.DataPointer(input), TensorMemory.DataPointer(output), (nuint)input.numel(), NcclNative.DataType(input.dtype), comm, IntPtr.Zero));
    }

    public void AllReduceSum(Tensor tensor)
    {
        Require(tensor, "all-reduce tensor");
        var p = TensorMemory.DataPointer(tensor);
        Run("all-reduce", comm => NcclNative.ncclAllReduce(p, p, (nuint)tensor.numel(), NcclNative.DataType(tensor.dtype), NcclNative.SumOp, comm, IntPtr.Zero));
    }

    public void Broadcast(Tensor tensor, int root)
    {
        Require(tensor, "broadcast tensor");
        if (root < 0 || root >= WorldSize) throw new ArgumentOutOfRangeException(nameof(root), root, $"root must be in [0, {WorldSize})");
        var p = TensorMemory.DataPointer(tensor);
        Run("broadcast", comm => NcclNative.ncclBroadcast(p, p, (nuint)tensor.numel(), NcclNative.DataType(tensor.dtype), root, comm, IntPtr.Zero));
    }

    /// <summary>
    /// Safe from any thread: a call in flight sees the request within microseconds and aborts the
    /// communicator itself (NCCL calls on one communicator must not run concurrently); with no call in
    /// flight we abort here.
    /// </summary>
    public void Abort(string reason)
    {
        _abortRequest ??= reason;
        if (!Monitor.TryEnter(_gate)) return;
        try
        {
            AbortCommunicator($"aborted: {reason}");
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    public void Dispose()
    {
        lock (_gate) AbortCommunicator("the group was disposed");
    }

    private void Run(string operation, Func<IntPtr, int> launch)
    {
        lock (_gate)
        {
            if (_failure is not null) throw new CollectiveException($"rank {Rank}: {operation} on a failed NCCL group ({_failure})");
            if (_abortRequest is { } request) throw Failed(operation, $"aborted: {request}");
            var rc = launch(_comm);
            if (rc != NcclNative.Success && rc != NcclNative.InProgress) throw Failed(operation, NcclNative.Describe(rc, _comm));
            var clock = Stopwatch.StartNew();
            while (true)
            {
                NcclNative.ncclCommGetAsyncError(_comm, out var asyncError);
                if (asyncError != NcclNative.Success && asyncError != NcclNative.InProgress)
                    throw Failed(operation, NcclNative.Describe(asyncError, _comm));
                if (asyncError == NcclNative.Success)
                {
                    // Enqueued: now wait for the stream, i.e. for the collective itself.
                    var query = NcclNative.cudaStreamQuery(IntPtr.Zero);
                    if (query == 0) return;
                    if (query != NcclNative.CudaErrorNotReady) throw Failed(operation, $"CUDA error {query} on the default stream");
                }
                if (_abortRequest is { } abort) throw Failed(operation, $"aborted: {abort}");
                if (clock.Elapsed > _timeout)
                    throw Failed(operation, $"no completion within {_timeout.TotalSeconds:0.#} s (a peer is stalled or gone)");
                Thread.Yield();
            }
        }
    }

    private CollectiveException Failed(string operation, string reason)
    {
        AbortCommunicator(reason);
        return new CollectiveException($"rank {Rank} of {WorldSize}: NCCL {operation} failed: {reason}");
    }

    /// <summary>ncclCommAbort stops outstanding kernels and frees the communicator; it never waits for peers.</summary>
    private void AbortCommunicator(string reason)
    {
        _failure ??= reason;
        if (_comm == IntPtr.Zero) return;
        NcclNative.ncclCommAbort(_comm);
        _comm = IntPtr.Zero;
    }

    private static void Require(Tensor tensor, string what)
    {
        if (tensor.device_type != DeviceType.CUDA) throw new ArgumentException($"NCCL needs CUDA tensors; the {what} is on {tensor.device}");
        if (!tensor.is_contiguous()) throw new ArgumentException($"NCCL needs contiguous tensors; the {what} is not");
    }
}
