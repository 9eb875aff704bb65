using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Forge.Model.Distributed;

namespace Forge.Actors.Collectives.Tcp;

/// <summary>
/// Every data-plane connection proves, both ways, that its two ends hold the group's secret, before
/// the rank table or any tensor byte crosses it. The listener speaks first, with a fresh challenge;
/// the connector answers with its hello, a challenge of its own and an HMAC-SHA256, under the secret,
/// of both challenges and the hello; the listener checks it in constant time and answers with its own
/// HMAC of the same transcript under another label, which the connector checks. Fresh challenges on
/// both sides make a recorded exchange useless to replay; the labels keep one side's proof from
/// serving as the other's; the hello (rank, world size, data port) is covered, so it cannot be altered.
/// <para>
/// The listener gives a connection <see cref="Timeout"/> to prove itself, and checks many at once, so
/// a stranger that sends garbage is dropped at once and one that sends nothing stalls no one.
/// Authentication, not encryption: someone who can watch the network between two ranks sees their
/// tensors, and TLS on remoting does not change that (see the README).
/// </para>
/// </summary>
internal static class TcpHandshake
{
    public const int ChallengeBytes = 32;
    /// <summary>An HMAC-SHA256.</summary>
    public const int ProofBytes = 32;
    /// <summary>How long a connection may take to prove itself before the listener drops it.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private static readonly byte[] ConnectorLabel = "forge-tcp/2 connector proof"u8.ToArray();
    private static readonly byte[] ListenerLabel = "forge-tcp/2 listener proof"u8.ToArray();

    /// <summary>The listener's end: the connector's hello once it has proved the secret (and been answered); null for anything else.</summary>
    public static async Task<TcpWire.Hello?> AcceptAsync(Socket socket, TcpGroupId id, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(Timeout);
        try
        {
            var challenge = RandomNumberGenerator.GetBytes(ChallengeBytes);
            var greeting = new byte[4 + ChallengeBytes];
            BinaryPrimitives.WriteUInt32LittleEndian(greeting, TcpWire.Magic);
            challenge.CopyTo(greeting, 4);
            await TcpWire.SendAllAsync(socket, greeting, deadline.Token).ConfigureAwait(false);

            var answer = new byte[TcpWire.HelloBytes + ChallengeBytes + ProofBytes];
            await TcpWire.ReceiveExactAsync(socket, answer, deadline.Token).ConfigureAwait(false);
            var hello = answer.AsSpan(0, TcpWire.HelloBytes).ToArray();
            var theirs = answer.AsSpan(TcpWire.HelloBytes, ChallengeBytes).ToArray();
            var proof = answer.AsSpan(TcpWire.HelloBytes + ChallengeBytes);
            if (!CryptographicOperations.FixedTimeEquals(proof, Proof(id.Secret, ConnectorLabel, hello, challenge, theirs))) return null;

            await TcpWire.SendAllAsync(socket, Proof(id.Secret, ListenerLabel, hello, challenge, theirs), deadline.Token).ConfigureAwait(false);
            return TcpWire.Decode(hello);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
            return null;
        }
    }

    /// <summary>The connector's end, on a connected socket: proves the secret with <paramref name="hello"/> and checks the listener's proof.</summary>
    /// <exception cref="CollectiveException">The listener is not this group's: it is no Forge listener, or it does not hold the secret.</exception>
    public static async Task ConnectAsync(Socket socket, TcpGroupId id, TcpWire.Hello hello, IPEndPoint endpoint, CancellationToken ct)
    {
        var greeting = new byte[4 + ChallengeBytes];
        await TcpWire.ReceiveExactAsync(socket, greeting, ct).ConfigureAwait(false);
        if (BinaryPrimitives.ReadUInt32LittleEndian(greeting) != TcpWire.Magic)
            throw new CollectiveException($"{endpoint} is not a Forge collective listener (bad magic)");
        var challenge = greeting.AsSpan(4).ToArray();
        var mine = RandomNumberGenerator.GetBytes(ChallengeBytes);
        var encoded = TcpWire.Encode(hello);
        await TcpWire.SendAllAsync(socket, Concat(encoded, mine, Proof(id.Secret, ConnectorLabel, encoded, challenge, mine)), ct).ConfigureAwait(false);

        var reply = new byte[ProofBytes];
        try
        {
            await TcpWire.ReceiveExactAsync(socket, reply, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TcpWire.PeerClosedException or SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            throw new CollectiveException($"{endpoint} refused this rank's proof for group {id}: it holds another group's secret (or this rank holds a wrong one)");
        }
        if (!CryptographicOperations.FixedTimeEquals(reply, Proof(id.Secret, ListenerLabel, encoded, challenge, mine)))
            throw new CollectiveException($"{endpoint} did not prove the secret of group {id}: refused it");
    }

    private static byte[] Proof(byte[] secret, byte[] label, byte[] hello, byte[] listenerChallenge, byte[] connectorChallenge) =>
        HMACSHA256.HashData(secret, Concat(label, hello, listenerChallenge, connectorChallenge));

    private static byte[] Concat(params byte[][] parts)
    {
        var all = new byte[parts.Sum(p => p.Length)];
        var at = 0;
        foreach (var part in parts)
        {
            part.CopyTo(all, at);
            at += part.Length;
        }
        return all;
    }
}
