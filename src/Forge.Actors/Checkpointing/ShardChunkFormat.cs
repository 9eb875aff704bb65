using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Forge.Model.Optim;

namespace Forge.Actors.Checkpointing;

/// <summary>
/// The binary layout of one chunk snapshot: a fixed little-endian header, then the chunk's
/// elements of the three optimizer states, each as a contiguous run of raw float32:
/// <code>
///   magic "FGCK" | version u16 | reserved u16 | checkpoint step i64 | rank i32 | chunk index i32
///   | shard start i64 | first element (within the shard) i64 | element count i64 | optimizer step i64
///   | master[count] | exp_avg[count] | exp_avg_sq[count]
/// </code>
/// A chunk covers a contiguous element range of the shard with all three states, so a resharded
/// load touches only the chunks overlapping the range it needs.
/// </summary>
public static class ShardChunkFormat
{
    public const int HeaderBytes = 56;
    /// <summary>Master weight plus two AdamW moments, float32 each.</summary>
    public const int BytesPerElement = 3 * sizeof(float);
    private const uint Magic = 0x4B434746; // "FGCK" read as little-endian u32
    private const ushort Version = 1;

    public readonly record struct Header(long CheckpointStep, int Rank, int ChunkIndex, long ShardStart, long FirstElement, long Count, long OptimizerStep);

    /// <summary>Elements per chunk so that no chunk exceeds <paramref name="chunkBytes"/>.</summary>
    public static long ElementsPerChunk(long chunkBytes) => (chunkBytes - HeaderBytes) / BytesPerElement;

    public static long ChunkBytesFor(long count) => HeaderBytes + count * BytesPerElement;

    public static long ElementsIn(ChunkInfo chunk) => (chunk.Bytes - HeaderBytes) / BytesPerElement;

    /// <summary>Writes the chunk into <paramref name="chunk"/>, which must be exactly <see cref="ChunkBytesFor"/>(count) bytes.</summary>
    public static void Encode(OptimizerShard shard, long checkpointStep, int rank, int chunkIndex, long firstElement, long count, Span<byte> chunk)
    {
        EnsureLittleEndian();
        if (chunk.Length != ChunkBytesFor(count))
            throw new ArgumentException($"a chunk of {count} elements is {ChunkBytesFor(count)} bytes; the buffer holds {chunk.Length}");
        var header = new Header(checkpointStep, rank, chunkIndex, shard.Start, firstElement, count, shard.Step);
        WriteHeader(chunk, header);
        var body = chunk[HeaderBytes..];
        var run = checked((int)(count * sizeof(float)));
        var from = checked((int)firstElement);
        var n = checked((int)count);
        MemoryMarshal.AsBytes(shard.Master.AsSpan(from, n)).CopyTo(body[..run]);
        MemoryMarshal.AsBytes(shard.ExpAvg.AsSpan(from, n)).CopyTo(body.Slice(run, run));
        MemoryMarshal.AsBytes(shard.ExpAvgSq.AsSpan(from, n)).CopyTo(body.Slice(2 * run, run));
    }

    /// <summary>
    /// Reads and validates the header (throwing <see cref="InvalidDataException"/> on a malformed chunk) from the chunk's first bytes (at least <see cref="HeaderBytes"/>)
    /// against the whole chunk's length, so that a chunk streamed from the store is checked before its body is read.
    /// </summary>
    public static Header ReadHeader(ReadOnlySpan<byte> chunk, long chunkBytes)
    {
        if (chunkBytes < HeaderBytes || chunk.Length < HeaderBytes)
            throw new InvalidDataException($"chunk is {chunkBytes} bytes, shorter than its {HeaderBytes}-byte header");
        if (BinaryPrimitives.ReadUInt32LittleEndian(chunk) != Magic)
            throw new InvalidDataException("chunk does not start with the FGCK magic");
        var version = BinaryPrimitives.ReadUInt16LittleEndian(chunk[4..]);
        if (version != Version)
            throw new InvalidDataException($"chunk format version {version} is not supported (expected {Version})");
        var header = new Header(
            CheckpointStep: BinaryPrimitives.ReadInt64LittleEndian(chunk[8..]),
            Rank: BinaryPrimitives.ReadInt32LittleEndian(chunk[16..]),
            ChunkIndex: BinaryPrimitives.ReadInt32LittleEndian(chunk[20..]),
            ShardStart: BinaryPrimitives.ReadInt64LittleEndian(chunk[24..]),
            FirstElement: BinaryPrimitives.ReadInt64LittleEndian(chunk[32..]),
            Count: BinaryPrimitives.ReadInt64LittleEndian(chunk[40..]),
            OptimizerStep: BinaryPrimitives.ReadInt64LittleEndian(chunk[48..]));
        if (header.Count < 0 || ChunkBytesFor(header.Count) != chunkBytes)
            throw new InvalidDataException($"chunk header claims {header.Count} elements but the chunk holds {chunkBytes} bytes");
        return header;
    }

    /// <summary>XxHash3 (64-bit) of the whole chunk, header included, as "xxh3:&lt;16 hex digits&gt;".</summary>
    public static string Checksum(ReadOnlySpan<byte> chunk) => ChecksumText(XxHash3.HashToUInt64(chunk));

    /// <summary>The checksum text of an XxHash3 value, as <see cref="Checksum"/> writes it (a streamed read hashes incrementally).</summary>
    public static string ChecksumText(ulong xxHash3) => $"xxh3:{xxHash3:x16}";

    private static void WriteHeader(Span<byte> chunk, Header h)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(chunk, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(chunk[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(chunk[6..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(chunk[8..], h.CheckpointStep);
        BinaryPrimitives.WriteInt32LittleEndian(chunk[16..], h.Rank);
        BinaryPrimitives.WriteInt32LittleEndian(chunk[20..], h.ChunkIndex);
        BinaryPrimitives.WriteInt64LittleEndian(chunk[24..], h.ShardStart);
        BinaryPrimitives.WriteInt64LittleEndian(chunk[32..], h.FirstElement);
        BinaryPrimitives.WriteInt64LittleEndian(chunk[40..], h.Count);
        BinaryPrimitives.WriteInt64LittleEndian(chunk[48..], h.OptimizerStep);
    }

    // The float runs are the host's memory image; every platform .NET targets here is little-endian,
    // and the file format is defined as little-endian so that a checkpoint moves between machines.
    internal static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("checkpoint chunks are little-endian float32; this host is big-endian");
    }
}
