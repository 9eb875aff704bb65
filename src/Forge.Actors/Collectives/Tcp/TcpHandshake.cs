using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
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
/// <para>
/// The exchange itself (<see cref="Channel"/>) serves every TCP channel of a job that must take only its
/// own peers: the collective data plane here, and the buddy replicas' channel (Replication), each under
/// its own magic, labels and secret.
/// </para>
/// </summary>
internal static class TcpHandshake
{
    public const int ChallengeBytes = 32;
    /// <summary>An HMAC-SHA256.</summary>
    public const int ProofBytes = 32;
    /// <summary>How long a connection may take to prove itself before the listener drops it.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>The collective data plane's exchange: its hello is a <see cref="TcpWire.Hello"/>.</summary>
    private static readonly Channel Collectives = new("forge-tcp/2", TcpWire.Magic, TcpWire.HelloBytes, "Forge collective listener");

    /// <summary>The listener's end: the connector's hello once it has proved the secret (and been answered); null for anything else.</summary>
    public static async Task<TcpWire.Hello?> AcceptAsync(Socket socket, TcpGroupId id, CancellationToken ct) =>
        await Collectives.AcceptAsync(socket, id.Secret, ct).ConfigureAwait(false) is { } hello ? TcpWire.Decode(hello) : null;

    /// <summary>The connector's end, on a connected socket: proves the secret with <paramref name="hello"/> and checks the listener's proof.</summary>
    /// <exception cref="CollectiveException">The listener is not this group's: it is no Forge listener, or it does not hold the secret.</exception>
    public static async Task ConnectAsync(Socket socket, TcpGroupId id, TcpWire.Hello hello, IPEndPoint endpoint, CancellationToken ct)
    {
        try
        {
            await Collectives.ConnectAsync(socket, id.Secret, $"group {id}", TcpWire.Encode(hello), endpoint.ToString(), ct).ConfigureAwait(false);
        }
        catch (AuthenticationException e)
        {
            throw new CollectiveException(e.Message);
        }
    }

    /// <summary>
    /// One kind of channel's exchange. <paramref name="Protocol"/> names it in the proofs' labels,
    /// <paramref name="Magic"/> opens the listener's greeting, and every connector's hello has
    /// <paramref name="HelloBytes"/> bytes; <paramref name="ListenerName"/> names the listener in errors.
    /// </summary>
    public sealed record Channel(string Protocol, uint Magic, int HelloBytes, string ListenerName)
    {
        private readonly byte[] _connectorLabel = System.Text.Encoding.UTF8.GetBytes($"{Protocol} connector proof");
        private readonly byte[] _listenerLabel = System.Text.Encoding.UTF8.GetBytes($"{Protocol} listener proof");

        /// <summary>The listener's end: the connector's hello once it has proved <paramref name="secret"/> (and been answered); null for anything else.</summary>
        public async Task<byte[]?> AcceptAsync(Socket socket, byte[] secret, CancellationToken ct)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(Timeout);
            try
            {
                var challenge = RandomNumberGenerator.GetBytes(ChallengeBytes);
                var greeting = new byte[4 + ChallengeBytes];
                BinaryPrimitives.WriteUInt32LittleEndian(greeting, Magic);
                challenge.CopyTo(greeting, 4);
                await TcpWire.SendAllAsync(socket, greeting, deadline.Token).ConfigureAwait(false);

                var answer = new byte[HelloBytes + ChallengeBytes + ProofBytes];
                await TcpWire.ReceiveExactAsync(socket, answer, deadline.Token).ConfigureAwait(false);
                var hello = answer.AsSpan(0, HelloBytes).ToArray();
                var theirs = answer.AsSpan(HelloBytes, ChallengeBytes).ToArray();
                var proof = answer.AsSpan(HelloBytes + ChallengeBytes);
                if (!CryptographicOperations.FixedTimeEquals(proof, Proof(secret, _connectorLabel, hello, challenge, theirs))) return null;

                await TcpWire.SendAllAsync(socket, Proof(secret, _listenerLabel, hello, challenge, theirs), deadline.Token).ConfigureAwait(false);
                return hello;
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
            {
                return null;
            }
        }

        /// <summary>The connector's end, on a connected socket: proves <paramref name="secret"/> with <paramref name="hello"/> and checks the listener's proof.</summary>
        /// <param name="secretOf">Whose secret it is, for errors ("group ...", "job ...").</param>
        /// <exception cref="AuthenticationException">The listener is no such listener, refused this proof, or could not prove the secret.</exception>
        public async Task ConnectAsync(Socket socket, byte[] secret, string secretOf, byte[] hello, string endpoint, CancellationToken ct)
        {
            if (hello.Length != HelloBytes) throw new ArgumentException($"a {Protocol} hello has {HelloBytes} bytes, not {hello.Length}", nameof(hello));
            var greeting = new byte[4 + ChallengeBytes];
            await TcpWire.ReceiveExactAsync(socket, greeting, ct).ConfigureAwait(false);
            if (BinaryPrimitives.ReadUInt32LittleEndian(greeting) != Magic)
                throw new AuthenticationException($"{endpoint} is not a {ListenerName} (bad magic)");
            var challenge = greeting.AsSpan(4).ToArray();
            var mine = RandomNumberGenerator.GetBytes(ChallengeBytes);
            await TcpWire.SendAllAsync(socket, Concat(hello, mine, Proof(secret, _connectorLabel, hello, challenge, mine)), ct).ConfigureAwait(false);

            var reply = new byte[ProofBytes];
            try
            {
                await TcpWire.ReceiveExactAsync(socket, reply, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TcpWire.PeerClosedException or SocketException { SocketErrorCode: SocketError.ConnectionReset })
            {
                throw new AuthenticationException($"{endpoint} refused this rank's proof for {secretOf}: it holds another secret (or this rank holds a wrong one)", e);
            }
            if (!CryptographicOperations.FixedTimeEquals(reply, Proof(secret, _listenerLabel, hello, challenge, mine)))
                throw new AuthenticationException($"{endpoint} did not prove the secret of {secretOf}: refused it");
        }
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
