using System.Net.Sockets;

namespace Forge.Actors.Supervision;

/// <summary>
/// Whether a rank's process is gone, asked of its replica channel: a port on which nothing listens any more
/// is refused at once by the peer's kernel, while remoting only notices after its retry gate (a second or
/// more). A slow or partitioned process answers or times out instead, and is left to the abort timeout.
/// </summary>
internal static class ProcessProbe
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);

    /// <summary>True only when a connection to <paramref name="endpoint"/> (host:port) is refused.</summary>
    public static async Task<bool> RefusesConnectionsAsync(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(endpoint[(colon + 1)..], out var port)) return false;
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var timeout = new CancellationTokenSource(ConnectTimeout);
        try
        {
            await socket.ConnectAsync(endpoint[..colon], port, timeout.Token).ConfigureAwait(false);
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}
