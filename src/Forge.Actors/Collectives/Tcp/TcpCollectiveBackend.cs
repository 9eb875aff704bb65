using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Forge.Model.Distributed;

namespace Forge.Actors.Collectives.Tcp;

/// <summary>
/// The CPU collective backend. Tensor bytes move over direct TCP links between ranks (a ring: each
/// rank sends to its successor and receives from its predecessor), never through Akka. Rank 0's
/// process creates the group id, which is the address of a listener it opens for the rendezvous;
/// the other ranks connect there, learn each other's data ports, and link up into the ring. Every
/// connection proves the group's secret first (<see cref="TcpHandshake"/>); listeners bind only to this node's host.
/// Works for ranks that are threads of one process as well as separate processes or machines.
/// </summary>
public sealed class TcpCollectiveBackend : ICollectiveBackend
{
    /// <summary>Rendezvous listeners opened by CreateGroupId, waiting for rank 0 of their group to join.</summary>
    private static readonly ConcurrentDictionary<Guid, Socket> PendingRendezvous = new();

    /// <summary>A world that never formed must not keep its listener (and port) for the life of the process.</summary>
    private static readonly TimeSpan UnclaimedRendezvousLifetime = TimeSpan.FromMinutes(30);

    private readonly IPAddress _bindAddress;
    private readonly string _host;

    /// <param name="host">
    /// This node's address (its --host, as remoting uses it): listeners bind to it alone, never to every
    /// interface, and group ids advertise it to the other ranks. A name binds to its first IPv4 address.
    /// </param>
    public TcpCollectiveBackend(string host)
    {
        _host = host;
        _bindAddress = BindAddress(host);
    }

    /// <summary>A backend for ranks on this machine only (binds and advertises the loopback address).</summary>
    public static TcpCollectiveBackend Loopback() => new(IPAddress.Loopback.ToString());

    public string Name => "tcp";

    public byte[] CreateGroupId()
    {
        var listener = OpenListener(_bindAddress);
        var id = new TcpGroupId(_host, ((IPEndPoint)listener.LocalEndPoint!).Port, Guid.NewGuid(), RandomNumberGenerator.GetBytes(TcpGroupId.SecretBytes));
        PendingRendezvous[id.Nonce] = listener;
        _ = Task.Delay(UnclaimedRendezvousLifetime).ContinueWith(_ =>
        {
            if (PendingRendezvous.TryRemove(id.Nonce, out var unclaimed)) unclaimed.Dispose();
        }, TaskScheduler.Default);
        return id.ToBytes();
    }

    public ICollectives Join(byte[] groupId, int rank, int worldSize, TimeSpan timeout)
    {
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "world size must be at least 1");
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [0, {worldSize})");
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "the timeout must be positive");
        var id = TcpGroupId.Parse(groupId);
        Socket listener;
        if (rank == 0)
        {
            if (!PendingRendezvous.TryRemove(id.Nonce, out listener!))
                throw new CollectiveException(
                    $"group {id} was not created by this process, or rank 0 already joined it: rank 0 must join in the process that called CreateGroupId, once");
        }
        else
        {
            listener = OpenListener(_bindAddress);
        }
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var (next, previous) = TcpRendezvous.FormRingAsync(listener, id, rank, worldSize, cts.Token).GetAwaiter().GetResult();
            return new TcpCollectives(rank, worldSize, next, previous, timeout);
        }
        catch (OperationCanceledException)
        {
            throw new CollectiveException($"rank {rank} of {worldSize} could not join group {id} within {timeout.TotalSeconds:0.#} s (a rank is missing or unreachable)");
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            throw new CollectiveException($"rank {rank} of {worldSize} failed to join group {id}: {e.Message}", e);
        }
        finally
        {
            listener.Dispose();
        }
    }

    private static Socket OpenListener(IPAddress bindAddress)
    {
        var listener = new Socket(bindAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(bindAddress, 0));
        listener.Listen(256);
        return listener;
    }

    private static IPAddress BindAddress(string host)
    {
        if (IPAddress.TryParse(host, out var address)) return address;
        var addresses = Dns.GetHostAddresses(host);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
               ?? throw new ArgumentException($"host '{host}' does not resolve to any address to bind the CPU data plane to", nameof(host));
    }
}
