using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using Forge.Actors.Collectives.Tcp;
using Forge.Model.Optim;

namespace Forge.Actors.Replication;

/// <summary>
/// The replica channel's framing. A request names a copy (<see cref="ReplicaKey"/>); a copy on the wire is a
/// fixed header (start, length, optimizer step, data cursor), the three fp32 arrays, and an XxHash3 of all of
/// it. The reader allocates only after checking the length, and hands out nothing before the checksum matched:
/// a copy cut short by its sender's death ends in an exception, never in a partial shard. Before any of it, the
/// connection proves the job's replica secret both ways (<see cref="Handshake"/>).
/// </summary>
internal static class ReplicaWire
{
    public const uint Magic = 0x31505246; // "FRP1"

    /// <summary>The data plane's challenge-response under the replica channel's own labels; the hello is the magic alone.</summary>
    public static readonly TcpHandshake.Channel Handshake = new("forge-replica/1", Magic, sizeof(uint), "Forge replica channel");

    public static byte[] Hello()
    {
        var hello = new byte[sizeof(uint)];
        BinaryPrimitives.WriteUInt32LittleEndian(hello, Magic);
        return hello;
    }

    public enum Kind : byte
    {
        /// <summary>An owner sends its copy; the buddy answers once it is verified and kept.</summary>
        Push = 1,
        /// <summary>A restoring rank asks for a range of a held copy.</summary>
        Fetch = 2,
    }

    public enum Status : byte { Refused = 0, Ok = 1 }

    private const int CopyHeaderBytes = 4 * sizeof(long);
    /// <summary>Floats per write or read: keeps each span's byte count within int range.</summary>
    private const int Segment = 1 << 20;

    public static void WriteRequest(Stream stream, Kind kind, ReplicaKey key, long from = 0, long count = 0)
    {
        var job = Encoding.UTF8.GetBytes(key.JobId);
        var buffer = new byte[4 + 1 + 2 + job.Length + 8 + 4 + 8 + 8 + 8];
        var at = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, Magic); at += 4;
        buffer[at++] = (byte)kind;
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(at), checked((ushort)job.Length)); at += 2;
        job.CopyTo(buffer, at); at += job.Length;
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(at), key.WorldEpoch); at += 8;
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(at), key.OwnerRank); at += 4;
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(at), key.Step); at += 8;
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(at), from); at += 8;
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(at), count);
        stream.Write(buffer);
    }

    public static (Kind Kind, ReplicaKey Key, long From, long Count) ReadRequest(Stream stream)
    {
        var head = new byte[7];
        stream.ReadExactly(head);
        if (BinaryPrimitives.ReadUInt32LittleEndian(head) != Magic)
            throw new InvalidDataException("the connection is not a Forge replica peer (bad magic)");
        var kind = (Kind)head[4];
        if (kind is not (Kind.Push or Kind.Fetch)) throw new InvalidDataException($"unknown replica request kind {head[4]}");
        var job = new byte[BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(5))];
        stream.ReadExactly(job);
        var rest = new byte[8 + 4 + 8 + 8 + 8];
        stream.ReadExactly(rest);
        var key = new ReplicaKey(Encoding.UTF8.GetString(job), BinaryPrimitives.ReadInt64LittleEndian(rest),
            BinaryPrimitives.ReadInt32LittleEndian(rest.AsSpan(8)), BinaryPrimitives.ReadInt64LittleEndian(rest.AsSpan(12)));
        return (kind, key, BinaryPrimitives.ReadInt64LittleEndian(rest.AsSpan(20)), BinaryPrimitives.ReadInt64LittleEndian(rest.AsSpan(28)));
    }

    /// <summary>Writes [offset, offset + count) of <paramref name="shard"/>'s arrays as a copy starting at flat index shard.Start + offset.</summary>
    public static void WriteCopy(Stream stream, OptimizerShard shard, long offset, long count, long samplesConsumed)
    {
        var hash = new XxHash3();
        var header = new byte[CopyHeaderBytes];
        BinaryPrimitives.WriteInt64LittleEndian(header, shard.Start + offset);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8), count);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), shard.Step);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(24), samplesConsumed);
        hash.Append(header);
        stream.Write(header);
        foreach (var array in new[] { shard.Master, shard.ExpAvg, shard.ExpAvgSq })
        {
            for (var done = 0L; done < count; done += Segment)
            {
                var bytes = MemoryMarshal.AsBytes(array.AsSpan((int)(offset + done), (int)Math.Min(Segment, count - done)));
                hash.Append(bytes);
                stream.Write(bytes);
            }
        }
        var checksum = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(checksum, hash.GetCurrentHashAsUInt64());
        stream.Write(checksum);
    }

    /// <summary>
    /// Reads a whole copy into three arrays from <paramref name="rent"/> (new ones by default) and verifies it; throws
    /// <see cref="InvalidDataException"/> when its length or checksum is wrong.
    /// </summary>
    public static (OptimizerShard Shard, long SamplesConsumed) ReadCopy(Stream stream, string from, Func<long, float[][]>? rent = null)
    {
        var hash = new XxHash3();
        var header = new byte[CopyHeaderBytes];
        stream.ReadExactly(header);
        hash.Append(header);
        var start = BinaryPrimitives.ReadInt64LittleEndian(header);
        var length = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(8));
        var step = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(16));
        var samples = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(24));
        if (start < 0 || length < 0 || length > Array.MaxLength)
            throw new InvalidDataException($"replica copy from {from}: range [{start}, +{length}) is not a shard (expected a start ≥ 0 and at most {Array.MaxLength} elements)");
        var arrays = (rent ?? ReplicaStore.NewArrays)(length);
        for (var i = 0; i < 3; i++)
        {
            for (var done = 0L; done < length; done += Segment)
            {
                var bytes = MemoryMarshal.AsBytes(arrays[i].AsSpan((int)done, (int)Math.Min(Segment, length - done)));
                stream.ReadExactly(bytes);
                hash.Append(bytes);
            }
        }
        var checksum = new byte[8];
        stream.ReadExactly(checksum);
        var expected = BinaryPrimitives.ReadUInt64LittleEndian(checksum);
        var actual = hash.GetCurrentHashAsUInt64();
        if (expected != actual)
            throw new InvalidDataException($"replica copy from {from} of [{start}, +{length}): checksum xxh3:{actual:x16} does not match the sender's xxh3:{expected:x16}");
        return (new OptimizerShard(start, length, arrays[0], arrays[1], arrays[2], step), samples);
    }

    public static void WriteStatus(Stream stream, Status status, string message = "")
    {
        var text = Encoding.UTF8.GetBytes(message);
        var buffer = new byte[1 + 4 + text.Length];
        buffer[0] = (byte)status;
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(1), text.Length);
        text.CopyTo(buffer, 5);
        stream.Write(buffer);
    }

    public static (Status Status, string Message) ReadStatus(Stream stream)
    {
        var head = new byte[5];
        stream.ReadExactly(head);
        var length = BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(1));
        if (length is < 0 or > 1 << 16) throw new InvalidDataException($"replica status message of {length} bytes");
        var text = new byte[length];
        stream.ReadExactly(text);
        return ((Status)head[0], Encoding.UTF8.GetString(text));
    }
}
