using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Forge.Model.Distributed;

namespace Forge.Actors.Collectives.Tcp;

/// <summary>
/// Forms the ring. Every rank other than 0 sends rank 0 a Join hello carrying its data port; rank 0
/// answers each with the table of every rank's (address, port), using the address it saw the
/// connection come from (the joiner's address on the route to rank 0, which is reachable). Then each
/// rank connects to its successor with a Ring hello and accepts its predecessor's link. Every one of
/// these connections first passes <see cref="TcpHandshake"/>, both ways; a listener takes only
/// connections that did (<see cref="TcpGroupListener"/>).
/// </summary>
internal static class TcpRendezvous
{
    public static async Task<(Socket? Next, Socket? Previous)> FormRingAsync(
        Socket listener, TcpGroupId id, int rank, int worldSize, CancellationToken ct)
    {
        if (worldSize == 1) return (null, null);
        var rendezvous = await id.ResolveAsync(ct).ConfigureAwait(false);
        var dataPort = ((IPEndPoint)listener.LocalEndPoint!).Port;
        await using var proved = new TcpGroupListener(listener, id, ct);
        var table = rank == 0
            ? await CollectJoinsAsync(proved, id, worldSize, ct).ConfigureAwait(false)
            : await JoinAsync(rendezvous, id, rank, worldSize, dataPort, ct).ConfigureAwait(false);
        table[0] = rendezvous;

        var nextRank = (rank + 1) % worldSize;
        var previousRank = (rank + worldSize - 1) % worldSize;
        var connect = ConnectAsync(table[nextRank], id, new TcpWire.Hello(TcpWire.Kind.Ring, id.Nonce, rank, worldSize, 0), ct);
        var accept = AcceptRingAsync(proved, id, previousRank, worldSize, ct);
        try
        {
            await Task.WhenAll(connect, accept).ConfigureAwait(false);
        }
        catch
        {
            if (connect.IsCompletedSuccessfully) connect.Result.Dispose();
            if (accept.IsCompletedSuccessfully) accept.Result.Dispose();
            throw;
        }
        return (connect.Result, accept.Result);
    }

    private static async Task<IPEndPoint[]> CollectJoinsAsync(TcpGroupListener proved, TcpGroupId id, int worldSize, CancellationToken ct)
    {
        var table = new IPEndPoint[worldSize];
        var joiners = new List<Socket>();
        try
        {
            while (joiners.Count < worldSize - 1)
            {
                var (hello, socket) = await proved.NextAsync(ct).ConfigureAwait(false);
                joiners.Add(socket);
                Validate(hello, TcpWire.Kind.Join, id, worldSize);
                if (hello.Rank <= 0 || hello.Rank >= worldSize || table[hello.Rank] is not null)
                    throw new CollectiveException($"group {id}: rank {hello.Rank} joined twice or is out of range for world size {worldSize}");
                table[hello.Rank] = new IPEndPoint(((IPEndPoint)socket.RemoteEndPoint!).Address, hello.Port);
            }
            var encoded = EncodeTable(table);
            foreach (var socket in joiners) await TcpWire.SendAllAsync(socket, encoded, ct).ConfigureAwait(false);
            return table;
        }
        finally
        {
            foreach (var socket in joiners) socket.Dispose();
        }
    }

    private static async Task<IPEndPoint[]> JoinAsync(IPEndPoint rendezvous, TcpGroupId id, int rank, int worldSize, int dataPort, CancellationToken ct)
    {
        using var socket = await ConnectAsync(rendezvous, id, new TcpWire.Hello(TcpWire.Kind.Join, id.Nonce, rank, worldSize, dataPort), ct).ConfigureAwait(false);
        var length = new byte[4];
        await TcpWire.ReceiveExactAsync(socket, length, ct).ConfigureAwait(false);
        var body = new byte[BinaryPrimitives.ReadInt32LittleEndian(length)];
        await TcpWire.ReceiveExactAsync(socket, body, ct).ConfigureAwait(false);
        return DecodeTable(body, worldSize);
    }

    /// <summary>Connects (retrying while the listener is not up yet) and proves the hello (<see cref="TcpHandshake"/>).</summary>
    private static async Task<Socket> ConnectAsync(IPEndPoint endpoint, TcpGroupId id, TcpWire.Hello hello, CancellationToken ct)
    {
        while (true)
        {
            var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(endpoint, ct).ConfigureAwait(false);
                TcpWire.Tune(socket);
                await TcpHandshake.ConnectAsync(socket, id, hello, endpoint, ct).ConfigureAwait(false);
                return socket;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.TimedOut or SocketError.HostUnreachable)
            {
                socket.Dispose();
                await Task.Delay(50, ct).ConfigureAwait(false);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
    }

    private static async Task<Socket> AcceptRingAsync(TcpGroupListener proved, TcpGroupId id, int previousRank, int worldSize, CancellationToken ct)
    {
        var (hello, socket) = await proved.NextAsync(ct).ConfigureAwait(false);
        try
        {
            Validate(hello, TcpWire.Kind.Ring, id, worldSize);
            if (hello.Rank != previousRank)
                throw new CollectiveException($"group {id}: expected the ring link of rank {previousRank}, got rank {hello.Rank}");
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A proved hello that still does not fit is a bug in a member of the group, not a stranger: the join fails.</summary>
    private static void Validate(TcpWire.Hello hello, TcpWire.Kind kind, TcpGroupId id, int worldSize)
    {
        if (hello.Nonce != id.Nonce)
            throw new CollectiveException($"group {id}: a rank of another group ({hello.Nonce:N}) connected with this group's secret");
        if (hello.Kind != kind)
            throw new CollectiveException($"group {id}: expected a {kind} hello, got {hello.Kind}");
        if (hello.WorldSize != worldSize)
            throw new CollectiveException($"group {id}: rank {hello.Rank} believes the world has {hello.WorldSize} ranks, this rank {worldSize}");
    }

    private static byte[] EncodeTable(IPEndPoint[] table)
    {
        var body = new MemoryStream();
        var writer = new BinaryWriter(body);
        for (var r = 1; r < table.Length; r++)
        {
            var address = table[r].Address.GetAddressBytes();
            writer.Write((byte)address.Length);
            writer.Write(address);
            writer.Write(table[r].Port);
        }
        writer.Flush();
        var encoded = new byte[4 + body.Length];
        BinaryPrimitives.WriteInt32LittleEndian(encoded, (int)body.Length);
        body.ToArray().CopyTo(encoded, 4);
        return encoded;
    }

    private static IPEndPoint[] DecodeTable(byte[] body, int worldSize)
    {
        var table = new IPEndPoint[worldSize];
        var reader = new BinaryReader(new MemoryStream(body));
        for (var r = 1; r < worldSize; r++)
        {
            var address = new IPAddress(reader.ReadBytes(reader.ReadByte()));
            table[r] = new IPEndPoint(address, reader.ReadInt32());
        }
        return table;
    }
}
