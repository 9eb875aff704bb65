using System.Collections.Concurrent;

namespace Forge.Actors.Checkpointing;

/// <summary>
/// Reused chunk buffers for a store's writes. A fresh chunk-sized array per chunk costs its page faults
/// and pushes the GC into full collections; chunks of one store are nearly all the same size, so a
/// few arrays per size serve every save. The snapshot payload must be exactly the chunk's bytes,
/// which rules out <see cref="System.Buffers.ArrayPool{T}"/> (it hands out larger arrays).
/// </summary>
internal sealed class ChunkBuffers(int keepPerSize)
{
    private readonly ConcurrentDictionary<int, ConcurrentBag<byte[]>> _free = new();

    public byte[] Rent(int length) =>
        _free.TryGetValue(length, out var bag) && bag.TryTake(out var buffer) ? buffer : GC.AllocateUninitializedArray<byte>(length);

    /// <summary>Only for a buffer nobody reads any more: a save that failed or timed out may still be writing it, so it is dropped instead.</summary>
    public void Return(byte[] buffer)
    {
        var bag = _free.GetOrAdd(buffer.Length, _ => []);
        if (bag.Count < keepPerSize) bag.Add(buffer);
    }
}
