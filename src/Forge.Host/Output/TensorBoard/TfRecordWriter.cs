using System.Buffers.Binary;

namespace Forge.Host.Output.TensorBoard;

/// <summary>
/// TFRecord framing: <c>uint64 length, uint32 masked_crc(length), bytes data, uint32 masked_crc(data)</c>,
/// all little-endian. Each record is written in one call and flushed, so TensorBoard can read a
/// file that is still growing.
/// </summary>
public sealed class TfRecordWriter(Stream output) : IDisposable
{
    public void Write(ReadOnlySpan<byte> data)
    {
        var frame = new byte[8 + 4 + data.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(frame, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(8), MaskedCrc32C.Compute(frame.AsSpan(0, 8)));
        data.CopyTo(frame.AsSpan(12));
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(12 + data.Length), MaskedCrc32C.Compute(data));
        output.Write(frame);
        output.Flush();
    }

    public void Dispose() => output.Dispose();
}
