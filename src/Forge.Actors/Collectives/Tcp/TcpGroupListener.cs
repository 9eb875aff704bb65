using System.Net.Sockets;
using System.Threading.Channels;

namespace Forge.Actors.Collectives.Tcp;

/// <summary>
/// A rank's listening socket while its group forms: it accepts every connection, gives each its own
/// <see cref="TcpHandshake"/> (concurrently, so a silent one delays no other), and hands on, in the
/// order they proved themselves, only the connections of this group's ranks. Everything else is
/// closed: a port scan, garbage, a rank of an earlier group, a wrong secret.
/// </summary>
internal sealed class TcpGroupListener : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly TcpGroupId _id;
    private readonly Channel<(TcpWire.Hello Hello, Socket Socket)> _proved = Channel.CreateUnbounded<(TcpWire.Hello, Socket)>();
    private readonly CancellationTokenSource _stop;
    private readonly Task _accepting;

    public TcpGroupListener(Socket listener, TcpGroupId id, CancellationToken ct)
    {
        _listener = listener;
        _id = id;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _accepting = Task.Run(() => AcceptAsync(_stop.Token));
    }

    /// <summary>The next connection that proved the group secret, with its hello.</summary>
    public async Task<(TcpWire.Hello Hello, Socket Socket)> NextAsync(CancellationToken ct) =>
        await _proved.Reader.ReadAsync(ct).ConfigureAwait(false);

    private async Task AcceptAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = ProveAsync(socket, ct);
        }
    }

    private async Task ProveAsync(Socket socket, CancellationToken ct)
    {
        TcpWire.Hello? hello = null;
        try
        {
            TcpWire.Tune(socket);
            hello = await TcpHandshake.AcceptAsync(socket, _id, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The connection went away before its handshake began.
        }
        if (hello is null || !_proved.Writer.TryWrite((hello, socket))) socket.Dispose();
    }

    /// <summary>Stops accepting and closes the proved connections nobody took; the listening socket stays its owner's.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _accepting.ConfigureAwait(false);
        _proved.Writer.TryComplete();
        while (_proved.Reader.TryRead(out var unclaimed)) unclaimed.Socket.Dispose();
        _stop.Dispose();
    }
}
