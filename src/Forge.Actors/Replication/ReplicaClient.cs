using System.Net.Sockets;
using System.Security.Authentication;
using Forge.Actors.Collectives.Tcp;
using Forge.Model.Optim;

namespace Forge.Actors.Replication;

/// <summary>The sending and fetching end of the replica channel (see <see cref="ReplicaServer"/>).</summary>
public static class ReplicaClient
{
    /// <summary>How long a transfer may stall before it is given up.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Sends a copy to the buddy at <paramref name="endpoint"/>; returns once the buddy verified and kept it.</summary>
    /// <exception cref="ReplicaUnavailableException">The buddy is unreachable, died mid-copy, or refused the copy.</exception>
    public static Task PushAsync(string endpoint, byte[] secret, ReplicaKey key, OptimizerShard shard, long samplesConsumed, CancellationToken ct = default) =>
        OnOwnThread(() =>
        {
            using var stream = Connect(endpoint, secret, key);
            try
            {
                ReplicaWire.WriteRequest(stream, ReplicaWire.Kind.Push, key);
                ReplicaWire.WriteCopy(stream, shard, 0, shard.Length, samplesConsumed);
                var (status, message) = ReplicaWire.ReadStatus(stream);
                if (status != ReplicaWire.Status.Ok) throw new ReplicaUnavailableException($"the buddy at {endpoint} refused the copy of {key}: {message}");
            }
            catch (Exception e) when (e is IOException or SocketException or InvalidDataException)
            {
                throw new ReplicaUnavailableException($"sending the copy of {key} to {endpoint} failed: {e.Message}", e);
            }
        }, ct);

    /// <summary>Blocking socket I/O on a thread of its own: on the thread pool it would starve Akka's dispatchers.</summary>
    private static Task OnOwnThread(Action transfer, CancellationToken ct) =>
        Task.Factory.StartNew(transfer, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static Task<T> OnOwnThread<T>(Func<T> transfer, CancellationToken ct) =>
        Task.Factory.StartNew(transfer, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Fetches [<paramref name="start"/>, start + <paramref name="count"/>) of a held copy, verified.</summary>
    /// <exception cref="ReplicaUnavailableException">The holder is gone, holds no such copy, or sent bytes that fail their checksum.</exception>
    public static Task<(OptimizerShard Piece, long SamplesConsumed)> FetchAsync(string endpoint, byte[] secret, ReplicaKey key, long start, long count, CancellationToken ct = default) =>
        OnOwnThread(() =>
        {
            using var stream = Connect(endpoint, secret, key);
            try
            {
                ReplicaWire.WriteRequest(stream, ReplicaWire.Kind.Fetch, key, start, count);
                var (status, message) = ReplicaWire.ReadStatus(stream);
                if (status != ReplicaWire.Status.Ok) throw new ReplicaUnavailableException(message);
                var copy = ReplicaWire.ReadCopy(stream, endpoint);
                if (copy.Shard.Start != start || copy.Shard.Length != count)
                    throw new ReplicaUnavailableException($"{endpoint} answered [{copy.Shard.Start}, +{copy.Shard.Length}) of {key} for [{start}, +{count})");
                return copy;
            }
            catch (Exception e) when (e is IOException or SocketException or InvalidDataException)
            {
                throw new ReplicaUnavailableException($"fetching {key} from {endpoint} failed: {e.Message}", e);
            }
        }, ct);

    /// <summary>A connection to the replica channel at <paramref name="endpoint"/> that proved <paramref name="secret"/> both ways.</summary>
    /// <exception cref="ReplicaUnavailableException">Nothing listens there, or it is not this job's replica channel.</exception>
    internal static NetworkStream Connect(string endpoint, byte[] secret, ReplicaKey key)
    {
        var colon = endpoint.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(endpoint[(colon + 1)..], out var port))
            throw new ArgumentException($"replica endpoint '{endpoint}': expected host:port", nameof(endpoint));
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.ReceiveTimeout = socket.SendTimeout = (int)DefaultTimeout.TotalMilliseconds;
        try
        {
            using var connecting = new CancellationTokenSource(DefaultTimeout);
            socket.ConnectAsync(endpoint[..colon], port, connecting.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            throw new ReplicaUnavailableException($"no replica channel at {endpoint} for {key}: {e.Message}", e);
        }
        try
        {
            using var proving = new CancellationTokenSource(TcpHandshake.Timeout);
            ReplicaWire.Handshake.ConnectAsync(socket, secret, $"job '{key.JobId}'", ReplicaWire.Hello(), endpoint, proving.Token).GetAwaiter().GetResult();
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException or OperationCanceledException)
        {
            socket.Dispose();
            throw new ReplicaUnavailableException($"the replica channel at {endpoint} is not {key}'s: {e.Message}", e);
        }
    }
}
