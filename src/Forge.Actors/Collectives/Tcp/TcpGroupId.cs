using System.Net;
using System.Text;
using Forge.Model.Distributed;

namespace Forge.Actors.Collectives.Tcp;

/// <summary>
/// The CPU backend's group id: rank 0's rendezvous address and a nonce that tells this group's
/// connections from those of an earlier group that happened to use the same port.
/// Encoded as UTF-8 text ("forge-tcp/1 host port nonce") so it reads well in logs.
/// </summary>
internal sealed record TcpGroupId(string Host, int Port, Guid Nonce)
{
    private const string Prefix = "forge-tcp/1";

    public byte[] ToBytes() => Encoding.UTF8.GetBytes($"{Prefix} {Host} {Port} {Nonce:N}");

    public static TcpGroupId Parse(byte[] bytes)
    {
        var text = Encoding.UTF8.GetString(bytes);
        var parts = text.Split(' ');
        if (parts.Length != 4 || parts[0] != Prefix || !int.TryParse(parts[2], out var port) || port is <= 0 or > 65535
            || !Guid.TryParseExact(parts[3], "N", out var nonce))
            throw new CollectiveException($"'{text}' is not a CPU (TCP) collective group id; expected \"{Prefix} <host> <port> <nonce>\"");
        return new TcpGroupId(parts[1], port, nonce);
    }

    public async Task<IPEndPoint> ResolveAsync(CancellationToken ct)
    {
        if (IPAddress.TryParse(Host, out var address)) return new IPEndPoint(address, Port);
        var addresses = await Dns.GetHostAddressesAsync(Host, ct).ConfigureAwait(false);
        var chosen = addresses.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                     ?? throw new CollectiveException($"collective group host '{Host}' does not resolve to any address");
        return new IPEndPoint(chosen, Port);
    }
}
