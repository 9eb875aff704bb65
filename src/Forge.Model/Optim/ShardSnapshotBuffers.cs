using System.Runtime.InteropServices;
using Forge.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Optim;

/// <summary>
/// The host memory a rank copies its optimizer shard into at each checkpoint, allocated once and
/// reused. The copy off the device is the only checkpoint work on the step path, so it must be as
/// fast as the link allows:
/// <list type="bullet">
/// <item>the three arrays (master weights, first and second moments) are allocated on the pinned
///   object heap, so their addresses never move and torch can copy straight into them
///   (<c>torch.from_array</c> shares the managed memory; there is no second host copy);</item>
/// <item>on a CUDA device they are also page-locked with cudaHostRegister, so the copy is a DMA at
///   full PCIe/NVLink-C2C speed instead of a staged copy through a driver bounce buffer;</item>
/// <item>nothing is allocated or zeroed per checkpoint (a fresh 13 GB of arrays per save was most
///   of the stall measured for ca-1b).</item>
/// </list>
/// The buffers are leased: <see cref="Capture"/> hands out a <see cref="ShardSnapshot"/> that
/// the checkpoint writer disposes once the shard is durable. A capture that finds every slot still
/// leased waits for one; that wait is the back-pressure of a store slower than the checkpoint
/// interval, and it shows up in the rank's reported snapshot time. Checkpoints use one slot; buddy
/// replicas use two (the newest copy every shard has, and the one being sent: a double buffer).
/// </summary>
public sealed class ShardSnapshotBuffers : IDisposable
{
    private readonly SemaphoreSlim _lease;
    private readonly Stack<int> _free = new();
    private readonly float[][] _arrays;      // slot s holds arrays 3s (master), 3s+1 and 3s+2 (moments)
    private readonly Tensor[] _hostViews;
    private readonly List<IntPtr> _registered = [];
    private bool _disposed;

    /// <param name="length">Elements in the shard.</param>
    /// <param name="device">The device the shard lives on; CUDA devices get page-locked buffers.</param>
    /// <param name="slots">Snapshots that may be leased at once.</param>
    public ShardSnapshotBuffers(long length, Device device, int slots = 1)
    {
        if (slots < 1) throw new ArgumentOutOfRangeException(nameof(slots), slots, "expected at least one slot");
        if (length > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(length), length,
                $"a shard of {length:N0} elements exceeds one .NET array ({Array.MaxLength:N0}); use more ranks");
        Length = length;
        Slots = slots;
        _lease = new SemaphoreSlim(slots, slots);
        for (var slot = slots - 1; slot >= 0; slot--) _free.Push(slot);
        _arrays = new float[3 * slots][];
        _hostViews = new Tensor[3 * slots];
        for (var i = 0; i < _arrays.Length; i++)
        {
            _arrays[i] = GC.AllocateUninitializedArray<float>((int)length, pinned: true);
            _hostViews[i] = from_array(_arrays[i]);
        }
        if (device.type == DeviceType.CUDA && length > 0)
        {
            foreach (var array in _arrays)
            {
                var address = Marshal.UnsafeAddrOfPinnedArrayElement(array, 0);
                if (!CudaRuntime.TryHostRegister(address, checked(length * sizeof(float)))) break;
                _registered.Add(address);
            }
        }
        PageLocked = _registered.Count == _arrays.Length;
    }

    public long Length { get; }

    /// <summary>Snapshots that may be leased at once; each slot is one copy of the shard in host memory.</summary>
    public int Slots { get; }

    /// <summary>True when every buffer is page-locked for DMA from the GPU.</summary>
    public bool PageLocked { get; }

    /// <summary>
    /// Copies <paramref name="optimizer"/>'s state into a free slot (waiting for a leased one to be
    /// released first when none is free) and leases it to the caller until the returned snapshot is disposed.
    /// </summary>
    /// <param name="start">The shard's offset in the flat layout, recorded in the snapshot.</param>
    public ShardSnapshot Capture(ShardedAdamW optimizer, long start)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (optimizer.Length != Length)
            throw new ArgumentException($"optimizer shard has {optimizer.Length} elements; these buffers hold {Length}");
        _lease.Wait();
        int slot;
        lock (_free) slot = _free.Pop();
        try
        {
            using var _ = no_grad();
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var first = 3 * slot;
            // Blocking copies: into page-locked memory each is one DMA, and the snapshot is complete
            // (and safe to hand to another thread) when the last returns.
            _hostViews[first].copy_(optimizer.Master);
            _hostViews[first + 1].copy_(optimizer.ExpAvg);
            _hostViews[first + 2].copy_(optimizer.ExpAvgSq);
            var shard = new OptimizerShard(start, Length, _arrays[first], _arrays[first + 1], _arrays[first + 2], optimizer.Step);
            return new ShardSnapshot(shard, () => Release(slot)) { CopySeconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds };
        }
        catch
        {
            Release(slot);
            throw;
        }
    }

    private void Release(int slot)
    {
        lock (_free) _free.Push(slot);
        _lease.Release();
    }

    /// <summary>
    /// Unregisters the page-locked memory. A snapshot still leased keeps its arrays (they are
    /// managed), so a writer finishing after this still reads valid data.
    /// </summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var address in _registered) CudaRuntime.TryHostUnregister(address);
        _registered.Clear();
        foreach (var view in _hostViews) view.Dispose();
    }
}

/// <summary>
/// An optimizer shard copied off the device. When it came from <see cref="ShardSnapshotBuffers"/>
/// its arrays are borrowed: dispose it once the shard is durable so the next checkpoint can reuse them.
/// </summary>
public sealed class ShardSnapshot(OptimizerShard shard, Action? release = null) : IDisposable
{
    private Action? _release = release;

    public OptimizerShard Shard { get; } = shard;

    /// <summary>
    /// Seconds the copy off the device took, when the buffers measured it: the copy alone, without the wait for a
    /// free slot or a first capture's one-time allocation and page-locking of the buffers.
    /// </summary>
    public double? CopySeconds { get; init; }

    public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
}
