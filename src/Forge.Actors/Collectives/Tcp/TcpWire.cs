using System.Buffers.Binary;
using System.Net.Sockets;
using Forge.Model.Distributed;

namespace Forge.Actors.Collectives.Tcp;

/// <summary>Framing of the CPU backend's hello messages (proved by <see cref="TcpHandshake"/>) and exact-length socket transfers.</summary>
internal static class TcpWire
{
    public const uint Magic = 0x32475246; // "FRG2": the second protocol, with TcpHandshake
    public const int HelloBytes = 4 + 1 + 16 + 4 + 4 + 4;

    /// <summary>Bytes per socket call: keeps each Memory within int range and lets the OS pipeline.</summary>
    public const int Segment = 8 << 20;

    public enum Kind : byte
    {
        /// <summary>A rank announces itself and its data port to rank 0.</summary>
        Join = 1,
        /// <summary>A rank opens its ring link to its successor.</summary>
        Ring = 2,
    }

    public sealed record Hello(Kind Kind, Guid Nonce, int Rank, int WorldSize, int Port);

    public static byte[] Encode(Hello hello)
    {
        var buffer = new byte[HelloBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, Magic);
        buffer[4] = (byte)hello.Kind;
        hello.Nonce.TryWriteBytes(buffer.AsSpan(5, 16));
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(21), hello.Rank);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(25), hello.WorldSize);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(29), hello.Port);
        return buffer;
    }

    /// <summary>A hello's fields; called once <see cref="TcpHandshake"/> has checked its proof, so the bytes are a group member's.</summary>
    public static Hello Decode(ReadOnlySpan<byte> buffer) =>
        new((Kind)buffer[4], new Guid(buffer.Slice(5, 16)),
            BinaryPrimitives.ReadInt32LittleEndian(buffer[21..]),
            BinaryPrimitives.ReadInt32LittleEndian(buffer[25..]),
            BinaryPrimitives.ReadInt32LittleEndian(buffer[29..]));

    public static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        while (!data.IsEmpty)
        {
            var sent = await socket.SendAsync(data, SocketFlags.None, ct).ConfigureAwait(false);
            data = data[sent..];
        }
    }

    public static async Task ReceiveExactAsync(Socket socket, Memory<byte> data, CancellationToken ct)
    {
        while (!data.IsEmpty)
        {
            var received = await socket.ReceiveAsync(data, SocketFlags.None, ct).ConfigureAwait(false);
            if (received == 0) throw new PeerClosedException();
            data = data[received..];
        }
    }

    /// <summary>Sends <paramref name="count"/> bytes from native memory in segments.</summary>
    public static async Task SendAllAsync(Socket socket, IntPtr pointer, long count, CancellationToken ct)
    {
        for (long done = 0; done < count; done += Segment)
        {
            var n = (int)Math.Min(Segment, count - done);
            using var memory = new PointerMemory(pointer + (nint)done, n);
            await SendAllAsync(socket, memory.Memory, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Receives exactly <paramref name="count"/> bytes into native memory in segments.</summary>
    public static async Task ReceiveExactAsync(Socket socket, IntPtr pointer, long count, CancellationToken ct)
    {
        for (long done = 0; done < count; done += Segment)
        {
            var n = (int)Math.Min(Segment, count - done);
            using var memory = new PointerMemory(pointer + (nint)done, n);
            await ReceiveExactAsync(socket, memory.Memory, ct).ConfigureAwait(false);
        }
    }

    public static void Tune(Socket socket)
    {
        socket.NoDelay = true;
        socket.SendBufferSize = 4 << 20;
        socket.ReceiveBufferSize = 4 << 20;
    }

    /// <summary>The peer closed its end (it died, or its group failed and closed every link).</summary>
    public sealed class PeerClosedException() : IOException("the peer closed the connection");
}
