using System.Net;
using System.Net.Sockets;

namespace Forge.Actors.Replication;

/// <summary>
/// The process's end of the replica channel: a TCP listener, apart from the collective data plane, that
/// takes buddies' copies into <see cref="Store"/> (kept only once complete and verified) and serves ranges
/// of held copies to restoring ranks. One per process, whatever its rank count; its <see cref="Endpoint"/>
/// goes to the supervisor with every <c>WorldJoined</c>.
/// <para>
/// Every connection, both ways, first proves the job's replica secret (<see cref="Trust"/>): the supervisor
/// makes one per incarnation and hands it to every process it admits, over remoting. Until this process has
/// it, and for any connection that cannot prove it, nothing is read or served: a stranger can neither plant a
/// copy nor read one.
/// </para>
/// </summary>
public sealed class ReplicaServer : IDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly TimeSpan _ioTimeout;
    private int _receiving;
    private volatile byte[]? _secret;

    /// <param name="host">The address this process's sockets bind to and advertise (a cluster node's --host), as the data plane's.</param>
    /// <param name="ioTimeout">A peer silent this long mid-transfer is given up.</param>
    public ReplicaServer(ReplicaStore store, string host, TimeSpan? ioTimeout = null)
    {
        Store = store;
        var bindAddress = IPAddress.TryParse(host, out var parsed) ? parsed
            : Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
              ?? throw new ArgumentException($"host '{host}' does not resolve to an address to bind the replica channel to", nameof(host));
        _ioTimeout = ioTimeout ?? ReplicaClient.DefaultTimeout;
        _listener = new Socket(bindAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(bindAddress, 0));
        _listener.Listen(64);
        Endpoint = $"{host}:{((IPEndPoint)_listener.LocalEndPoint!).Port}";
        _ = Task.Run(AcceptLoop);
    }

    /// <summary>A server for processes of this machine only (binds and advertises the loopback address).</summary>
    public static ReplicaServer Loopback(ReplicaStore store, TimeSpan? ioTimeout = null) => new(store, IPAddress.Loopback.ToString(), ioTimeout);

    public ReplicaStore Store { get; }

    /// <summary>host:port of this process's replica channel.</summary>
    public string Endpoint { get; }

    /// <summary>
    /// The job's replica secret, as the supervisor that admitted this process sent it (a new supervisor sends a
    /// new one): connections to this channel must prove it, and this process's own pushes and fetches prove it.
    /// </summary>
    public void Trust(byte[] secret)
    {
        if (secret.Length < 16) throw new ArgumentException($"a replica secret of {secret.Length} bytes: expected at least 16", nameof(secret));
        _secret = secret;
    }

    /// <summary>The secret this process's connections prove, or null before the supervisor sent one.</summary>
    public byte[]? Secret => _secret;

    /// <summary>Copies being received now (none of them is in <see cref="Store"/> until complete).</summary>
    public int ReceivesInProgress => Volatile.Read(ref _receiving);

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket peer;
            try
            {
                peer = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            // Blocking socket I/O on a thread of its own: on the thread pool it would starve Akka's dispatchers.
            _ = Task.Factory.StartNew(() => Serve(peer), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
    }

    private void Serve(Socket peer)
    {
        peer.NoDelay = true;
        peer.ReceiveTimeout = peer.SendTimeout = (int)_ioTimeout.TotalMilliseconds;
        var from = peer.RemoteEndPoint?.ToString() ?? "a peer";
        using var stream = new NetworkStream(peer, ownsSocket: true);
        // Not one byte of a request is read from a connection that has not proved the secret.
        if (_secret is not { } secret || ReplicaWire.Handshake.AcceptAsync(peer, secret, _stop.Token).GetAwaiter().GetResult() is null) return;
        try
        {
            var (kind, key, start, count) = ReplicaWire.ReadRequest(stream);
            if (kind == ReplicaWire.Kind.Push) Receive(stream, key, from);
            else Send(stream, key, start, count);
        }
        catch (Exception e) when (e is IOException or SocketException or InvalidDataException or ObjectDisposedException)
        {
            // The peer died or sent garbage: whatever it sent of a copy was never kept.
        }
    }

    private void Receive(NetworkStream stream, ReplicaKey key, string from)
    {
        Interlocked.Increment(ref _receiving);
        try
        {
            (Forge.Model.Optim.OptimizerShard Shard, long SamplesConsumed) copy;
            try
            {
                copy = ReplicaWire.ReadCopy(stream, from, Store.Rent);
            }
            catch (InvalidDataException e)
            {
                ReplicaWire.WriteStatus(stream, ReplicaWire.Status.Refused, $"{key}: {e.Message}");
                return;
            }
            // Committed only now: the copy is whole and its checksum matched.
            Store.Keep(new ReplicaCopy(key, copy.Shard, copy.SamplesConsumed, Store.ReturnWhenFreed(copy.Shard)));
            ReplicaWire.WriteStatus(stream, ReplicaWire.Status.Ok);
        }
        finally
        {
            Interlocked.Decrement(ref _receiving);
        }
    }

    private void Send(NetworkStream stream, ReplicaKey key, long start, long count)
    {
        if (!Store.TryAcquire(key, out var copy))
        {
            ReplicaWire.WriteStatus(stream, ReplicaWire.Status.Refused, $"{Endpoint} holds no copy of {key}");
            return;
        }
        try
        {
            var shard = copy.Shard;
            if (count < 0 || start < shard.Start || start + count > shard.Start + shard.Length)
            {
                ReplicaWire.WriteStatus(stream, ReplicaWire.Status.Refused,
                    $"{key}: range [{start}, +{count}) is outside the copy's [{shard.Start}, {shard.Start + shard.Length})");
                return;
            }
            ReplicaWire.WriteStatus(stream, ReplicaWire.Status.Ok);
            ReplicaWire.WriteCopy(stream, shard, start - shard.Start, count, copy.SamplesConsumed);
        }
        finally
        {
            copy.Release();   // the arrays are not reused while they are being sent
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
    }
}
