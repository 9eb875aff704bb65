using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Forge.Host.Output.TensorBoard;

/// <summary>
/// Encodes the two kinds of TensorBoard <c>Event</c> (tensorflow/core/util/event.proto) a scalar
/// log needs: the file-version header and a summary of scalar values. Written by hand because it
/// is five fields of three messages; a protobuf dependency and generated code would outweigh it.
/// Field numbers: Event{wall_time=1 double, step=2 int64, file_version=3 string, summary=5},
/// Summary{value=1 repeated}, Summary.Value{tag=1 string, simple_value=2 float}.
/// </summary>
public static class TfEventEncoder
{
    private const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

    public const string FileVersion = "brain.Event:2";

    public static byte[] FileVersionEvent(double wallTime)
    {
        var buffer = new ArrayBufferWriter<byte>();
        WriteDouble(buffer, 1, wallTime);
        WriteBytes(buffer, 3, Encoding.UTF8.GetBytes(FileVersion));
        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] ScalarsEvent(double wallTime, long step, IEnumerable<(string Tag, float Value)> scalars)
    {
        var summary = new ArrayBufferWriter<byte>();
        foreach (var (tag, value) in scalars)
        {
            var entry = new ArrayBufferWriter<byte>();
            WriteBytes(entry, 1, Encoding.UTF8.GetBytes(tag));
            WriteTag(entry, 2, Fixed32);
            BinaryPrimitives.WriteSingleLittleEndian(entry.GetSpan(4), value);
            entry.Advance(4);
            WriteBytes(summary, 1, entry.WrittenSpan);
        }

        var buffer = new ArrayBufferWriter<byte>();
        WriteDouble(buffer, 1, wallTime);
        WriteTag(buffer, 2, Varint);
        WriteVarint(buffer, (ulong)step);
        WriteBytes(buffer, 5, summary.WrittenSpan);
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteDouble(ArrayBufferWriter<byte> buffer, int field, double value)
    {
        WriteTag(buffer, field, Fixed64);
        BinaryPrimitives.WriteDoubleLittleEndian(buffer.GetSpan(8), value);
        buffer.Advance(8);
    }

    private static void WriteBytes(ArrayBufferWriter<byte> buffer, int field, ReadOnlySpan<byte> bytes)
    {
        WriteTag(buffer, field, LengthDelimited);
        WriteVarint(buffer, (ulong)bytes.Length);
        buffer.Write(bytes);
    }

    private static void WriteTag(ArrayBufferWriter<byte> buffer, int field, int wireType) =>
        WriteVarint(buffer, (ulong)((field << 3) | wireType));

    private static void WriteVarint(ArrayBufferWriter<byte> buffer, ulong value)
    {
        var span = buffer.GetSpan(10);
        var n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[n++] = (byte)value;
        buffer.Advance(n);
    }
}
