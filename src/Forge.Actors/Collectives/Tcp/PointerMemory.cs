using System.Buffers;

namespace Forge.Actors.Collectives.Tcp;

/// <summary>
/// A <see cref="Memory{T}"/> over native memory (tensor storage or scratch buffers), so socket
/// sends and receives go straight from and into tensors without staging through managed arrays.
/// </summary>
internal sealed unsafe class PointerMemory(IntPtr pointer, int length) : MemoryManager<byte>
{
    public override Span<byte> GetSpan() => new((void*)pointer, length);

    public override MemoryHandle Pin(int elementIndex = 0) => new((byte*)pointer + elementIndex);

    public override void Unpin() { }

    protected override void Dispose(bool disposing) { }
}
