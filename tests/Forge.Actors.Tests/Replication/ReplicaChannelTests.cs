using System.Reflection;
using System.Net.Sockets;
using Forge.Actors.Protocol;
using Forge.Actors.Replication;
using Forge.Model.Optim;

namespace Forge.Actors.Tests.Replication;

/// <summary>The replica channel over real loopback sockets: what a buddy keeps, and what it never keeps.</summary>
public sealed class ReplicaChannelTests
{
    private static readonly ReplicaKey Key = new("job", 3, 1, 14);
    /// <summary>The job's replica secret, as a supervisor hands it out.</summary>
    internal static readonly byte[] Secret = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);

    /// <summary>A loopback replica channel that holds the job's secret, as once its process was admitted.</summary>
    internal static ReplicaServer Trusted(ReplicaStore store)
    {
        var server = ReplicaServer.Loopback(store);
        server.Trust(Secret);
        return server;
    }

    internal static OptimizerShard Shard(long start, long length, long step = 14, int seed = 1)
    {
        var random = new Random(seed);
        float[] Values() => Enumerable.Range(0, (int)length).Select(_ => (float)random.NextDouble()).ToArray();
        return new OptimizerShard(start, length, Values(), Values(), Values(), step);
    }

    [Fact]
    public async Task APushedCopyIsKeptBitExactAndServesAnyRangeOfIt()
    {
        using var store = new ReplicaStore();
        using var buddy = Trusted(store);
        var shard = Shard(start: 100, length: 3000);

        await ReplicaClient.PushAsync(buddy.Endpoint, Secret, Key, shard, samplesConsumed: 448);

        Assert.True(store.TryAcquire(Key, out var kept));
        Assert.Equal((shard.Start, shard.Length, shard.Step, 448L), (kept.Shard.Start, kept.Shard.Length, kept.Shard.Step, kept.SamplesConsumed));
        Assert.Equal(shard.Master, kept.Shard.Master);
        Assert.Equal(shard.ExpAvg, kept.Shard.ExpAvg);
        Assert.Equal(shard.ExpAvgSq, kept.Shard.ExpAvgSq);
        var (piece, samples) = await ReplicaClient.FetchAsync(buddy.Endpoint, Secret, Key, start: 1100, count: 700);
        Assert.Equal(448, samples);
        Assert.Equal((1100L, 700L, 14L), (piece.Start, piece.Length, piece.Step));
        Assert.Equal(shard.ExpAvgSq.AsSpan(1000, 700).ToArray(), piece.ExpAvgSq);
    }

    [Fact]
    public async Task AHalfReceivedCopyIsNeverKeptNorServed()
    {
        using var store = new ReplicaStore();
        using var buddy = Trusted(store);
        var whole = WireBytes(Shard(0, 5000));

        // The sender dies halfway through the copy: its socket closes with half the bytes sent.
        using (var stream = ReplicaClient.Connect(buddy.Endpoint, Secret, Key))
        {
            stream.Write(whole.AsSpan(0, whole.Length / 2));
            await WaitUntil(() => buddy.ReceivesInProgress == 1);
        }
        await WaitUntil(() => buddy.ReceivesInProgress == 0);

        Assert.Empty(store.Keys);
        var refused = await Assert.ThrowsAsync<ReplicaUnavailableException>(() => ReplicaClient.FetchAsync(buddy.Endpoint, Secret, Key, 0, 10));
        Assert.Contains("holds no copy", refused.Message);
    }

    [Fact]
    public async Task ACopyWhoseBytesChangedOnTheWayIsRefusedAndNotKept()
    {
        using var store = new ReplicaStore();
        using var buddy = Trusted(store);
        var bytes = WireBytes(Shard(0, 64));
        bytes[bytes.Length / 2] ^= 0x10;   // one bit flipped in the payload

        using var stream = ReplicaClient.Connect(buddy.Endpoint, Secret, Key);
        stream.Write(bytes);
        var (status, message) = ReplicaWire.ReadStatus(stream);

        Assert.Equal(ReplicaWire.Status.Refused, status);
        Assert.Contains("checksum", message);
        Assert.Empty(store.Keys);
    }

    [Fact]
    public void AStoreNeverHoldsMoreThanTwoCopiesOfAShardAndReleasesWhatItDrops()
    {
        using var store = new ReplicaStore();
        var released = new List<long>();
        for (var step = 1L; step <= 5; step++)
        {
            var s = step;
            store.Keep(new ReplicaCopy(Key with { Step = step }, Shard(0, 10, step), 0, new Release(() => released.Add(s))));
            store.Keep(new ReplicaCopy(Key with { OwnerRank = 0, Step = step }, Shard(0, 10, step), 0));
            Assert.True(store.Keys.Count(k => k.OwnerRank == 1) <= ReplicaStore.CopiesPerShard);
        }
        Assert.Equal([4L, 5L], store.Keys.Where(k => k.OwnerRank == 1).Select(k => k.Step).Order());
        Assert.Equal([1L, 2L, 3L], released);

        store.Retain("job", [new ReplicaStep(3, 5)]);
        Assert.Equal([5L, 5L], store.Keys.Select(k => k.Step));
        Assert.Equal([1L, 2L, 3L, 4L], released);
        Assert.Equal(2 * 3 * 10 * sizeof(float), store.Bytes);
    }

    [Fact]
    public async Task AReceivedCopyReusesTheArraysOfOneTheStoreFreedButNeverOfOneStillBeingRead()
    {
        using var store = new ReplicaStore();
        using var buddy = Trusted(store);
        async Task<ReplicaCopy> Push(long step)
        {
            await ReplicaClient.PushAsync(buddy.Endpoint, Secret, Key with { Step = step }, Shard(0, 1000, step), samplesConsumed: step);
            Assert.True(store.TryAcquire(Key with { Step = step }, out var kept));
            kept.Release();
            return kept;
        }
        var first = await Push(1);
        var second = await Push(2);
        var third = await Push(3);   // evicts step 1: its arrays become the spare set
        var fourth = await Push(4);
        Assert.Same(first.Shard.Master, fourth.Shard.Master);
        Assert.Same(first.Shard.ExpAvgSq, fourth.Shard.ExpAvgSq);

        // Step 3 is being read (a fetch being served, a local restore) when step 5 evicts it: its arrays stay as they were.
        Assert.True(store.TryAcquire(Key with { Step = 3 }, out var reading));
        var before = reading.Shard.Master.ToArray();
        var fifth = await Push(5);   // reuses step 2's arrays, and evicts step 3, which is still being read
        var sixth = await Push(6);
        var seventh = await Push(7);
        Assert.Same(second.Shard.Master, fifth.Shard.Master);
        Assert.DoesNotContain(new[] { fifth, sixth, seventh }, c => ReferenceEquals(c.Shard.Master, third.Shard.Master));
        Assert.Equal(before, reading.Shard.Master);
        reading.Release();
        Assert.Equal(ReplicaStore.CopiesPerShard, store.Keys.Count);
    }

    [Fact]
    public async Task AShardOfANewWorldIsAssembledFromTheOldWorldsCopiesInTwoProcesses()
    {
        // Old world: 2 ranks over 21 elements (11 each, one of padding); new world: 3 ranks (7 each).
        const long numel = 21;
        var old = new[] { ShardRange.For(numel, 0, 2), ShardRange.For(numel, 1, 2) };
        var full = Shard(0, numel, step: 9, seed: 5);
        OptimizerShard Cut(ShardRange r) => new(r.Start, r.Length, Pad(full.Master, r), Pad(full.ExpAvg, r), Pad(full.ExpAvgSq, r), 9);
        using var storeA = new ReplicaStore();
        using var storeB = new ReplicaStore();
        using var a = Trusted(storeA);
        using var b = Trusted(storeB);
        storeA.Keep(new ReplicaCopy(new ReplicaKey("job", 2, 0, 30), Cut(old[0]), 960));
        storeB.Keep(new ReplicaCopy(new ReplicaKey("job", 2, 1, 30), Cut(old[1]), 960));
        var restore = new MemoryRestore(2, 30, 960, 2, numel, [new ReplicaSource(0, a.Endpoint), new ReplicaSource(1, b.Endpoint)]);

        for (var rank = 0; rank < 3; rank++)
        {
            // Rank 1's range straddles both old shards; each rank reads its local copy without a socket.
            var shard = await MemoryShardRestore.LoadAsync("job", restore, rank, 3, local: rank == 0 ? a : null, Secret, CancellationToken.None);
            var range = ShardRange.For(numel, rank, 3);
            Assert.Equal((range.Start, range.Length, 9L), (shard.Start, shard.Length, shard.Step));
            Assert.Equal(full.Master.AsSpan((int)range.Start, (int)range.Length).ToArray(), shard.Master);
            Assert.Equal(full.ExpAvg.AsSpan((int)range.Start, (int)range.Length).ToArray(), shard.ExpAvg);
        }

        b.Dispose();   // the holder of old shard 1 is gone: a rank needing it cannot restore from memory
        await Assert.ThrowsAsync<ReplicaUnavailableException>(() => MemoryShardRestore.LoadAsync("job", restore, 2, 3, a, Secret, CancellationToken.None));
    }

    [Fact]
    public async Task AClientWithoutTheJobsSecretCanNeitherPlantNorReadACopy()
    {
        using var store = new ReplicaStore();
        using var buddy = Trusted(store);
        var held = Shard(0, 256);
        store.Keep(new ReplicaCopy(Key, held, 64));
        var wrong = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);

        // A wrong secret: the push is refused before a byte of the copy is read, the fetch before one is sent.
        var planted = await Assert.ThrowsAsync<ReplicaUnavailableException>(() =>
            ReplicaClient.PushAsync(buddy.Endpoint, wrong, Key with { Step = 15 }, Shard(0, 256, step: 15, seed: 9), 72));
        Assert.Contains("refused this rank's proof", planted.Message);
        await Assert.ThrowsAsync<ReplicaUnavailableException>(() => ReplicaClient.FetchAsync(buddy.Endpoint, wrong, Key, 0, 256));

        // No handshake at all: a well-formed push request sent straight away is taken as a failed proof.
        using (var socket = Connect(buddy.Endpoint))
        {
            socket.Send(WireBytes(Shard(0, 256, step: 15, seed: 9)));
            Assert.Equal(4 + 32, ReceiveUntilClosed(socket));   // the greeting (magic, challenge), then the close
        }
        // A fetch request sent without a handshake gets the greeting and nothing of the copy.
        using (var socket = Connect(buddy.Endpoint))
        {
            using var request = new MemoryStream();
            ReplicaWire.WriteRequest(request, ReplicaWire.Kind.Fetch, Key, 0, 256);
            socket.Send(request.ToArray().Concat(new byte[64]).ToArray());
            Assert.Equal(4 + 32, ReceiveUntilClosed(socket));
        }

        Assert.Equal([Key], store.Keys);
        Assert.True(store.TryAcquire(Key, out var kept));
        Assert.Equal(held.Master, kept.Shard.Master);
        Assert.Equal(0, buddy.ReceivesInProgress);
    }

    [Fact]
    public async Task AChannelThatHasNoSecretYetTakesNoCopy()
    {
        using var store = new ReplicaStore();
        using var buddy = ReplicaServer.Loopback(store);   // its process was not admitted by a supervisor yet

        await Assert.ThrowsAsync<ReplicaUnavailableException>(() => ReplicaClient.PushAsync(buddy.Endpoint, Secret, Key, Shard(0, 64), 0));

        Assert.Empty(store.Keys);
    }

    private static int ReceiveUntilClosed(Socket socket)
    {
        socket.ReceiveTimeout = 10_000;
        var buffer = new byte[1 << 16];
        var total = 0;
        try
        {
            for (int n; (n = socket.Receive(buffer)) > 0;) total += n;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // The server closed with unread bytes pending: a reset is a close too.
        }
        return total;
    }

    private static float[] Pad(float[] values, ShardRange range)
    {
        var padded = new float[range.Length];
        Array.Copy(values, range.Start, padded, 0, Math.Min(range.Length, values.Length - range.Start));
        return padded;
    }

    /// <summary>A whole push request for <see cref="Key"/>, as a sender writes it.</summary>
    internal static byte[] WireBytes(OptimizerShard shard)
    {
        using var buffer = new MemoryStream();
        ReplicaWire.WriteRequest(buffer, ReplicaWire.Kind.Push, Key);
        ReplicaWire.WriteCopy(buffer, shard, 0, shard.Length, 0);
        return buffer.ToArray();
    }

    private static Socket Connect(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(endpoint[..colon], int.Parse(endpoint[(colon + 1)..]));
        return socket;
    }

    internal static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 10 s");
            await Task.Delay(10);
        }
    }

    private sealed class Release(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}

/// <summary>A sender in another OS process, killed with SIGKILL halfway through its copy.</summary>
public sealed class ReplicaSenderCrashTests
{
    [Fact]
    public async Task ACopyWhoseSenderProcessWasKilledMidwayIsNeverKept()
    {
        using var store = new ReplicaStore();
        using var buddy = ReplicaChannelTests.Trusted(store);
        var directory = typeof(ReplicaSenderCrashTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "CollectivePeerDirectory").Value!;
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(directory, "Forge.Actors.CollectivePeer.dll"), "replica-half", buddy.Endpoint, Convert.ToHexString(ReplicaChannelTests.Secret) })
            start.ArgumentList.Add(arg);
        using var sender = System.Diagnostics.Process.Start(start)!;
        try
        {
            Assert.Equal("half-sent", await sender.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)));
            await ReplicaChannelTests.WaitUntil(() => buddy.ReceivesInProgress == 1);
            sender.Kill();   // SIGKILL
            await sender.WaitForExitAsync();
            await ReplicaChannelTests.WaitUntil(() => buddy.ReceivesInProgress == 0);

            Assert.Empty(store.Keys);
            Assert.Equal(0, store.Bytes);
        }
        finally
        {
            if (!sender.HasExited) sender.Kill();
        }
    }
}
