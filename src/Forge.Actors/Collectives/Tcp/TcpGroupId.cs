using System.Net;
using System.Text;
using Forge.Model.Distributed;

namespace Forge.Actors.Collectives.Tcp;

/// <summary>
/// The CPU backend's group id: rank 0's rendezvous address, a nonce that tells this group's
/// connections from those of an earlier group that happened to use the same port, and the group's
/// secret, random bytes that every connection of the group proves it holds (<see cref="TcpHandshake"/>).
/// Rank 0's process makes it; it reaches the other ranks only inside their assignments, over
/// remoting (TLS between machines), so a process outside the job cannot learn the secret.
/// Encoded as UTF-8 text ("forge-tcp/2 host port nonce secret"); <see cref="ToString"/> leaves the secret out.
/// </summary>
internal sealed record TcpGroupId(string Host, int Port, Guid Nonce, byte[] Secret)
{
    private const string Prefix = "forge-tcp/2";
    /// <summary>256 bits, the HMAC-SHA256 key size.</summary>
    public const int SecretBytes = 32;

    public byte[] ToBytes() => Encoding.UTF8.GetBytes($"{Prefix} {Host} {Port} {Nonce:N} {Convert.ToHexString(Secret)}");

    public static TcpGroupId Parse(byte[] bytes)
    {
        var parts = Encoding.UTF8.GetString(bytes).Split(' ');
        if (parts.Length != 5 || parts[0] != Prefix || !int.TryParse(parts[2], out var port) || port is <= 0 or > 65535
            || !Guid.TryParseExact(parts[3], "N", out var nonce) || parts[4].Length != 2 * SecretBytes || !parts[4].All(char.IsAsciiHexDigit))
            // The text is not echoed whole: a near-miss could carry a group's secret into a log.
            throw new CollectiveException(
                $"a group id of {bytes.Length} bytes starting '{parts[0][..Math.Min(parts[0].Length, 16)]}' is not a CPU (TCP) collective group id; expected \"{Prefix} <host> <port> <nonce> <secret>\"");
        return new TcpGroupId(parts[1], port, nonce, Convert.FromHexString(parts[4]));
    }

    public async Task<IPEndPoint> ResolveAsync(CancellationToken ct)
    {
        if (IPAddress.TryParse(Host, out var address)) return new IPEndPoint(address, Port);
        var addresses = await Dns.GetHostAddressesAsync(Host, ct).ConfigureAwait(false);
        var chosen = addresses.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                     ?? throw new CollectiveException($"collective group host '{Host}' does not resolve to any address");
        return new IPEndPoint(chosen, Port);
    }

    public override string ToString() => $"{Host}:{Port} ({Nonce:N})";
}
