using Forge.Model.Runtime;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Forge.Model.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Actors.Collectives.Tcp;

/// <summary>
/// Ring collectives over two TCP links per rank (to the successor, from the predecessor). Reduce-
/// scatter and all-gather are the bandwidth-optimal rings (each rank sends (W-1)/W of the data);
/// all-reduce is the two chained; broadcast is a chain from the root. Every call has a deadline and
/// any failure (timeout, a closed link, <see cref="Abort"/>) closes both links, so the neighbours
/// fail at once instead of waiting for their own timeouts, and the failure runs round the ring.
/// Tensors on other devices or non-contiguous ones go through a host copy.
/// </summary>
internal sealed class TcpCollectives : ICollectives
{
    private readonly Socket? _next;
    private readonly Socket? _previous;
    private readonly TimeSpan _timeout;
    private readonly CancellationTokenSource _abort = new();
    private readonly object _gate = new();
    private string? _failure;
    private IntPtr _scratch;
    private long _scratchBytes;

    public TcpCollectives(int rank, int worldSize, Socket? next, Socket? previous, TimeSpan timeout)
    {
        Rank = rank;
        WorldSize = worldSize;
        _next = next;
        _previous = previous;
        _timeout = timeout;
    }

    public int Rank { get; }
    public int WorldSize { get; }
    private int NextRank => (Rank + 1) % WorldSize;
    private int PreviousRank => (Rank + WorldSize - 1) % WorldSize;

    public void ReduceScatter(Tensor input, Tensor output)
    {
        RequireSameDtype(input, output, "reduce-scatter");
        if (input.numel() != output.numel() * WorldSize)
            throw new ArgumentException($"reduce-scatter input has {input.numel()} elements; expected world size {WorldSize} x output {output.numel()}");
        using var source = HostBuffer.Read(input);
        using var target = HostBuffer.Write(output);
        var chunks = EqualChunks(output.numel());
        Run("reduce-scatter", ct => RingReduceScatterAsync(source.Pointer, target.Pointer, chunks, input.dtype, (int)input.element_size(), ct));
    }

    public void AllGather(Tensor input, Tensor output)
    {
        RequireSameDtype(input, output, "all-gather");
        if (output.numel() != input.numel() * WorldSize)
            throw new ArgumentException($"all-gather output has {output.numel()} elements; expected world size {WorldSize} x input {input.numel()}");
        using var target = HostBuffer.ReadWrite(output);
        var chunks = EqualChunks(input.numel());
        var size = (int)output.element_size();
        var own = target.Pointer + (nint)(chunks[Rank].Offset * size);
        using (var source = HostBuffer.Read(input))
        {
            // An in-place all-gather passes output's own chunk as input: nothing to copy then.
            if (source.Pointer != own) Copy(source.Pointer, own, input.numel() * size);
        }
        Run("all-gather", ct => RingAllGatherAsync(target.Pointer, chunks, size, ct));
    }

    public void AllReduceSum(Tensor tensor)
    {
        using var buffer = HostBuffer.ReadWrite(tensor);
        var chunks = UnevenChunks(tensor.numel());
        var size = (int)tensor.element_size();
        Run("all-reduce", async ct =>
        {
            await RingReduceScatterAsync(buffer.Pointer, buffer.Pointer + (nint)(chunks[Rank].Offset * size), chunks, tensor.dtype, size, ct).ConfigureAwait(false);
            await RingAllGatherAsync(buffer.Pointer, chunks, size, ct).ConfigureAwait(false);
        });
    }

    public void Broadcast(Tensor tensor, int root)
    {
        if (root < 0 || root >= WorldSize) throw new ArgumentOutOfRangeException(nameof(root), root, $"root must be in [0, {WorldSize})");
        using var buffer = Rank == root ? HostBuffer.Read(tensor) : HostBuffer.Write(tensor);
        var bytes = TensorMemory.ByteCount(tensor);
        var position = (Rank - root + WorldSize) % WorldSize;
        Run("broadcast", async ct =>
        {
            // A chain root -> root+1 -> ...; each segment is forwarded as soon as it arrives.
            for (long done = 0; done < bytes; done += TcpWire.Segment)
            {
                var n = Math.Min(TcpWire.Segment, bytes - done);
                var segment = buffer.Pointer + (nint)done;
                if (position > 0) await TcpWire.ReceiveExactAsync(_previous!, segment, n, ct).ConfigureAwait(false);
                if (position < WorldSize - 1) await TcpWire.SendAllAsync(_next!, segment, n, ct).ConfigureAwait(false);
            }
        });
    }

    public void Abort(string reason) => Fail($"aborted: {reason}");

    public void Dispose()
    {
        Fail("the group was disposed");
        lock (_gate)
        {
            FreeScratch();
        }
        _abort.Dispose();
    }

    /// <summary>
    /// Ring reduce-scatter: at step s rank r sends its running sum of chunk (r-s-1) and receives its
    /// predecessor's running sum of chunk (r-s-2), adding its own contribution; after W-1 steps the
    /// chunk it received last, its own chunk r, holds every rank's contribution. Running sums live in
    /// scratch memory so the input is never modified.
    /// </summary>
    private async Task RingReduceScatterAsync(IntPtr input, IntPtr ownOutput, (long Offset, long Count)[] chunks, ScalarType dtype, int size, CancellationToken ct)
    {
        if (!ElementwiseSum.Supports(dtype)) throw new ArgumentException($"the CPU collective backend cannot sum {dtype} tensors");
        if (WorldSize == 1)
        {
            if (input != ownOutput) Copy(input, ownOutput, chunks[0].Count * size);
            return;
        }
        var maxBytes = chunks.Max(c => c.Count) * size;
        var (sum, received) = Scratch(maxBytes);
        for (var s = 0; s < WorldSize - 1; s++)
        {
            var sendIndex = Modulo(Rank - s - 1);
            var receiveIndex = Modulo(Rank - s - 2);
            var sendFrom = s == 0 ? input + (nint)(chunks[sendIndex].Offset * size) : sum;
            await ExchangeAsync(sendFrom, chunks[sendIndex].Count * size, received, chunks[receiveIndex].Count * size, ct).ConfigureAwait(false);
            var into = s == WorldSize - 2 ? ownOutput : sum;
            ElementwiseSum.Add(dtype, input + (nint)(chunks[receiveIndex].Offset * size), received, into, chunks[receiveIndex].Count);
        }
    }

    /// <summary>Ring all-gather in place: at step s rank r forwards chunk (r-s) and receives chunk (r-s-1).</summary>
    private async Task RingAllGatherAsync(IntPtr buffer, (long Offset, long Count)[] chunks, int size, CancellationToken ct)
    {
        for (var s = 0; s < WorldSize - 1; s++)
        {
            var sendIndex = Modulo(Rank - s);
            var receiveIndex = Modulo(Rank - s - 1);
            await ExchangeAsync(
                buffer + (nint)(chunks[sendIndex].Offset * size), chunks[sendIndex].Count * size,
                buffer + (nint)(chunks[receiveIndex].Offset * size), chunks[receiveIndex].Count * size, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends to the successor while receiving from the predecessor, so no rank waits on another's send.
    /// When one direction fails the other is cancelled at once rather than left to run into the deadline.
    /// </summary>
    private async Task ExchangeAsync(IntPtr send, long sendBytes, IntPtr receive, long receiveBytes, CancellationToken ct)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sending = TcpWire.SendAllAsync(_next!, send, sendBytes, both.Token);
        var receiving = TcpWire.ReceiveExactAsync(_previous!, receive, receiveBytes, both.Token);
        var first = await Task.WhenAny(sending, receiving).ConfigureAwait(false);
        if (!first.IsCompletedSuccessfully)
        {
            both.Cancel();
            var other = first == sending ? receiving : sending;
            await other.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            await first.ConfigureAwait(false);
        }
        await Task.WhenAll(sending, receiving).ConfigureAwait(false);
    }

    private void Run(string operation, Func<CancellationToken, Task> body)
    {
        if (_failure is { } failure) throw new CollectiveException($"rank {Rank}: {operation} on a failed group ({failure})");
        if (WorldSize == 1)
        {
            body(CancellationToken.None).GetAwaiter().GetResult();
            return;
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
        deadline.CancelAfter(_timeout);
        try
        {
            body(deadline.Token).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
            // In a world of two both neighbours are the same rank.
            var neighbours = PreviousRank == NextRank ? $"{PreviousRank}" : $"{PreviousRank} or {NextRank}";
            var reason = _failure ?? (e is OperationCanceledException
                ? $"{operation} made no progress within {_timeout.TotalSeconds:0.#} s (rank {neighbours} is stalled or gone)"
                : $"{operation} lost its link to rank {(e is TcpWire.PeerClosedException ? $"{PreviousRank}" : neighbours)}: {e.Message}");
            Fail(reason);
            throw new CollectiveException($"rank {Rank} of {WorldSize}: {reason}", e);
        }
    }

    /// <summary>Marks the group failed and closes both links, which wakes every pending call here and on the neighbours.</summary>
    private void Fail(string reason)
    {
        lock (_gate)
        {
            if (_failure is not null) return;
            _failure = reason;
        }
        try { _abort.Cancel(); } catch (ObjectDisposedException) { }
        _next?.Dispose();
        _previous?.Dispose();
    }

    private (IntPtr Sum, IntPtr Received) Scratch(long bytes)
    {
        lock (_gate)
        {
            if (_scratchBytes < bytes)
            {
                FreeScratch();
                _scratch = Allocate(2 * bytes);
                _scratchBytes = bytes;
            }
            return (_scratch, _scratch + (nint)_scratchBytes);
        }
    }

    private unsafe void FreeScratch()
    {
        if (_scratch != IntPtr.Zero) NativeMemory.AlignedFree((void*)_scratch);
        _scratch = IntPtr.Zero;
        _scratchBytes = 0;
    }

    private static unsafe IntPtr Allocate(long bytes) => (IntPtr)NativeMemory.AlignedAlloc((nuint)bytes, 64);

    private static unsafe void Copy(IntPtr from, IntPtr to, long bytes) => Buffer.MemoryCopy((void*)from, (void*)to, bytes, bytes);

    private (long Offset, long Count)[] EqualChunks(long count) =>
        Enumerable.Range(0, WorldSize).Select(r => (r * count, count)).ToArray();

    /// <summary>W chunks whose sizes differ by at most one element (some may be empty).</summary>
    private (long Offset, long Count)[] UnevenChunks(long count)
    {
        var chunks = new (long, long)[WorldSize];
        long offset = 0;
        for (var r = 0; r < WorldSize; r++)
        {
            var n = count / WorldSize + (r < count % WorldSize ? 1 : 0);
            chunks[r] = (offset, n);
            offset += n;
        }
        return chunks;
    }

    private int Modulo(int value) => ((value % WorldSize) + WorldSize) % WorldSize;

    private static void RequireSameDtype(Tensor a, Tensor b, string operation)
    {
        if (a.dtype != b.dtype) throw new ArgumentException($"{operation} needs input and output of one dtype, got {a.dtype} and {b.dtype}");
    }

    /// <summary>
    /// A contiguous host view of a tensor: the tensor itself when it already is one, else a host copy
    /// that (for outputs) is copied back on dispose.
    /// </summary>
    private sealed class HostBuffer : IDisposable
    {
        private readonly Tensor _original;
        private readonly Tensor _host;
        private readonly bool _writeBack;

        private HostBuffer(Tensor original, bool copyIn, bool writeBack)
        {
            _original = original;
            var direct = original.device_type == DeviceType.CPU && original.is_contiguous();
            _host = direct ? original : copyIn ? original.detach().cpu().contiguous() : empty(original.shape, dtype: original.dtype);
            _writeBack = writeBack && !direct;
            Pointer = TensorMemory.DataPointer(_host);
        }

        public IntPtr Pointer { get; }

        public static HostBuffer Read(Tensor t) => new(t, copyIn: true, writeBack: false);
        public static HostBuffer Write(Tensor t) => new(t, copyIn: false, writeBack: true);
        public static HostBuffer ReadWrite(Tensor t) => new(t, copyIn: true, writeBack: true);

        public void Dispose()
        {
            if (ReferenceEquals(_host, _original)) return;
            if (_writeBack)
            {
                using var _ = no_grad();
                _original.copy_(_host);
            }
            _host.Dispose();
        }
    }
}
