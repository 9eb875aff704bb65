using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Forge.Actors.CollectivePeer;
using Forge.Actors.Collectives.Tcp;
using Forge.Model.Distributed;
using static TorchSharp.torch;

namespace Forge.Actors.Tests.Collectives;

/// <summary>
/// The CPU data plane against strangers on loopback: connections that cannot prove the group's secret
/// are dropped without costing the group its formation time or a correct result, and a wrong secret
/// is refused in either direction.
/// </summary>
public sealed class TcpHandshakeTests
{
    private static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Joins every rank of <paramref name="groupId"/> on its own thread and runs <paramref name="body"/> on each.</summary>
    private static Task<T>[] Ranks<T>(TcpCollectiveBackend backend, byte[] groupId, int worldSize, Func<ICollectives, T> body) =>
        Enumerable.Range(0, worldSize).Select(rank => Task.Factory.StartNew(() =>
        {
            using var group = backend.Join(groupId, rank, worldSize, JoinTimeout);
            return body(group);
        }, TaskCreationOptions.LongRunning)).ToArray();

    [Fact]
    public async Task StrangersOnADataPlanePortSendingGarbageOrNothingNeitherHarmNorStallTheGroup()
    {
        const int worldSize = 3;
        var backend = TcpCollectiveBackend.Loopback();
        var groupId = backend.CreateGroupId();
        var port = TcpGroupId.Parse(groupId).Port;
        // Already waiting when the ranks arrive: a silent one, and one that sends garbage and stays.
        using var silent = new TcpClient();
        await silent.ConnectAsync(IPAddress.Loopback, port);
        using var garbage = new TcpClient();
        await garbage.ConnectAsync(IPAddress.Loopback, port);
        await garbage.GetStream().WriteAsync(RandomNumberGenerator.GetBytes(4096));
        // And more of both, all through the formation (rank 0's port also takes the last rank's ring link).
        using var forming = new CancellationTokenSource();
        var knocking = Task.Run(async () =>
        {
            var knocks = 0;
            for (; !forming.IsCancellationRequested; knocks++)
            {
                using var knock = new TcpClient();
                try
                {
                    await knock.ConnectAsync(IPAddress.Loopback, port);
                    if (knocks % 2 == 0) await knock.GetStream().WriteAsync(RandomNumberGenerator.GetBytes(TcpWire.HelloBytes + 64));
                }
                catch (SocketException) { /* the group formed and closed its listener */ }
                await Task.Delay(5);
            }
            return knocks;
        });

        var clock = Stopwatch.StartNew();
        var ranks = Ranks(backend, groupId, worldSize, group =>
        {
            var formed = clock.Elapsed;
            return (formed, CollectiveScenario.Exchange(group));
        });
        var results = await Task.WhenAll(ranks).WaitAsync(JoinTimeout * 2);
        await forming.CancelAsync();
        var knocks = await knocking;

        // Every collective gave the predicted result: no stranger's byte reached a tensor.
        Assert.All(results, r => Assert.Empty(r.Item2));
        // Formed before a silent connection's handshake could even time out: nobody waited for it.
        Assert.All(results, r => Assert.True(r.formed < TcpHandshake.Timeout, $"formed after {r.formed}"));
        Assert.True(knocks > 0);
        // The listener answered the strangers with a challenge and then closed their connections.
        Assert.True(await ClosedAfterGreeting(garbage), "the garbage sender was not dropped");
        Assert.True(await ClosedAfterGreeting(silent), "the silent stranger was not dropped");
    }

    /// <summary>Whether the listener closed the connection (its greeting may come first) within three handshake timeouts.</summary>
    private static async Task<bool> ClosedAfterGreeting(TcpClient client)
    {
        var stream = client.GetStream();
        var buffer = new byte[1024];
        using var limit = new CancellationTokenSource(TcpHandshake.Timeout * 3);
        try
        {
            while (await stream.ReadAsync(buffer, limit.Token) > 0) { }
            return true;
        }
        catch (IOException)
        {
            return true;   // reset: the listener closed with the stranger's garbage unread
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [Fact]
    public async Task ASilentStrangerIsDroppedAfterTheHandshakeTimeoutWhileTheListenerWaitsForTheRealRank()
    {
        var backend = TcpCollectiveBackend.Loopback();
        var groupId = backend.CreateGroupId();
        var port = TcpGroupId.Parse(groupId).Port;
        var rank0 = Task.Factory.StartNew(() =>
        {
            using var group = backend.Join(groupId, 0, 2, JoinTimeout);
            using var t = ones(3);
            group.AllReduceSum(t);
            return t.data<float>().ToArray();
        }, TaskCreationOptions.LongRunning);
        using var silent = new TcpClient();
        await silent.ConnectAsync(IPAddress.Loopback, port);
        var clock = Stopwatch.StartNew();

        // Rank 0 is still forming (rank 1 has not come): only the handshake timeout can close this connection.
        Assert.True(await ClosedAfterGreeting(silent), "the silent stranger was not dropped");
        var dropped = clock.Elapsed;
        Assert.False(rank0.IsCompleted);
        var rank1 = Task.Factory.StartNew(() =>
        {
            using var group = backend.Join(groupId, 1, 2, JoinTimeout);
            using var t = ones(3);
            group.AllReduceSum(t);
            return t.data<float>().ToArray();
        }, TaskCreationOptions.LongRunning);
        var sums = await Task.WhenAll(rank0, rank1).WaitAsync(JoinTimeout);

        Assert.InRange(dropped, TcpHandshake.Timeout - TimeSpan.FromSeconds(1), TcpHandshake.Timeout + TimeSpan.FromSeconds(3));
        Assert.All(sums, s => Assert.Equal([2f, 2f, 2f], s));
    }

    [Fact]
    public async Task ARankWithAWrongSecretIsRefusedAndTheGroupFormsWithoutIt()
    {
        var backend = TcpCollectiveBackend.Loopback();
        var groupId = backend.CreateGroupId();
        var real = TcpGroupId.Parse(groupId);
        var forged = (real with { Secret = RandomNumberGenerator.GetBytes(TcpGroupId.SecretBytes) }).ToBytes();

        // The impostor knows the address, the nonce and the world; only the secret is wrong.
        var impostor = Task.Run(() => Record.Exception(() => backend.Join(forged, 1, 2, TimeSpan.FromSeconds(10))));
        await Task.Delay(200);
        var sums = Ranks(backend, groupId, 2, group =>
        {
            using var t = full(4, group.Rank + 1.0f);
            group.AllReduceSum(t);
            return t.data<float>().ToArray();
        });
        var results = await Task.WhenAll(sums).WaitAsync(JoinTimeout * 2);

        Assert.All(results, r => Assert.Equal([3f, 3f, 3f, 3f], r));
        var refused = Assert.IsType<CollectiveException>(await impostor);
        Assert.Contains("refused this rank's proof", refused.Message);
    }

    [Fact]
    public async Task AListenerThatCannotProveTheSecretIsRefusedByTheJoiningRank()
    {
        // A stranger listening where a group id points, answering like a Forge listener but without the secret.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var id = new TcpGroupId("127.0.0.1", port, Guid.NewGuid(), RandomNumberGenerator.GetBytes(TcpGroupId.SecretBytes));
        var impersonation = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            var greeting = new byte[4 + TcpHandshake.ChallengeBytes];
            BitConverter.TryWriteBytes(greeting, TcpWire.Magic);
            await socket.SendAsync(greeting);
            var answer = new byte[TcpWire.HelloBytes + TcpHandshake.ChallengeBytes + TcpHandshake.ProofBytes];
            for (var got = 0; got < answer.Length;) got += await socket.ReceiveAsync(answer.AsMemory(got));
            await socket.SendAsync(RandomNumberGenerator.GetBytes(TcpHandshake.ProofBytes));
            await Task.Delay(1000);
        });

        var error = Assert.Throws<CollectiveException>(() => TcpCollectiveBackend.Loopback().Join(id.ToBytes(), 1, 2, TimeSpan.FromSeconds(10)));

        Assert.Contains("did not prove the secret", error.Message);
        await impersonation;
    }

    [Fact]
    public async Task TheDataPlaneListensOnlyOnItsHost()
    {
        var groupId = new TcpCollectiveBackend("127.0.0.1").CreateGroupId();
        var port = TcpGroupId.Parse(groupId).Port;

        using (var onHost = new TcpClient()) await onHost.ConnectAsync(IPAddress.Loopback, port);
        // Another address of this machine (all of 127/8 is loopback on Linux): a socket bound to every interface would answer there.
        using var elsewhere = new TcpClient();
        var refused = await Assert.ThrowsAsync<SocketException>(() => elsewhere.ConnectAsync(IPAddress.Parse("127.0.0.2"), port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public void AGroupIdCarriesItsSecretButDoesNotPrintIt()
    {
        var groupId = TcpCollectiveBackend.Loopback().CreateGroupId();
        var id = TcpGroupId.Parse(groupId);

        Assert.Equal(TcpGroupId.SecretBytes, id.Secret.Length);
        Assert.NotEqual(TcpGroupId.Parse(TcpCollectiveBackend.Loopback().CreateGroupId()).Secret, id.Secret);
        Assert.DoesNotContain(Convert.ToHexString(id.Secret), id.ToString(), StringComparison.OrdinalIgnoreCase);
    }
}
