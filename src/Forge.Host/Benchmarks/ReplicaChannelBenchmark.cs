using System.Diagnostics;
using System.Security.Cryptography;
using Forge.Actors.Replication;
using Forge.Model.Optim;

namespace Forge.Host.Benchmarks;

/// <summary>
/// `forge bench replica`: how fast the replica channel moves one rank's shard state (fp32 master and both moments)
/// to a buddy on this machine, over loopback TCP with the channel's handshake, framing and checksums: what bounds
/// how often copies can be taken, and so the work a failure costs when copies are slower than steps (they are then
/// deferred, never waited for). Pushes the same copy `copies` times to a replica store, as successive steps do (the
/// store keeps two per shard), then fetches the last one back, as a restoring rank does, and checks it.
/// </summary>
public static class ReplicaChannelBenchmark
{
    public static async Task<int> RunAsync(TextWriter output, int mib, int copies, CancellationToken ct)
    {
        if (mib < 1 || copies < 1)
        {
            output.WriteLine("--mib and --copies must be at least 1");
            return 2;
        }
        var length = (long)mib * 1024 * 1024 / (3 * sizeof(float));
        if (length > Array.MaxLength)
        {
            output.WriteLine($"--mib {mib}: a shard of {length:N0} elements exceeds one .NET array ({Array.MaxLength:N0}); expected at most {3L * sizeof(float) * Array.MaxLength / (1024 * 1024):N0} MiB");
            return 2;
        }
        var shard = Filled(length);
        var bytes = 3 * length * sizeof(float);
        using var store = new ReplicaStore();
        using var server = ReplicaServer.Loopback(store);
        var secret = RandomNumberGenerator.GetBytes(32);
        server.Trust(secret);
        output.WriteLine($"replica channel on loopback: a shard copy of {bytes / (1024.0 * 1024):N0} MiB ({length:N0} elements x 3 fp32 arrays), {copies} pushes then one fetch");
        output.WriteLine($"{"copy",5} {"seconds",9} {"MiB/s",9} {"copies held",12} {"held MiB",10}");
        var pushes = new List<double>();
        for (var k = 1; k <= copies; k++)
        {
            var started = Stopwatch.GetTimestamp();
            await ReplicaClient.PushAsync(server.Endpoint, secret, Key(k), shard, k * 1000L, ct);
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            pushes.Add(seconds);
            output.WriteLine($"{k,5} {seconds,9:F3} {MiBPerSecond(bytes, seconds),9:N0} {store.Keys.Count,12} {store.Bytes / (1024.0 * 1024),10:N0}");
        }
        var fetchStarted = Stopwatch.GetTimestamp();
        var (piece, cursor) = await ReplicaClient.FetchAsync(server.Endpoint, secret, Key(copies), 0, length, ct);
        var fetchSeconds = Stopwatch.GetElapsedTime(fetchStarted).TotalSeconds;
        var intact = cursor == copies * 1000L && piece.Master.AsSpan().SequenceEqual(shard.Master) && piece.ExpAvg.AsSpan().SequenceEqual(shard.ExpAvg)
                     && piece.ExpAvgSq.AsSpan().SequenceEqual(shard.ExpAvgSq);
        output.WriteLine();
        // The store's first three copies fault in new pages; from the fourth on, each reuses the arrays of the copy it evicted.
        Summary(output, "push, new arrays (copies 1-3)", pushes.Take(ReplicaStore.CopiesPerShard + 1).ToArray(), bytes);
        if (pushes.Count > ReplicaStore.CopiesPerShard + 1)
            Summary(output, "push, reused arrays (4+)", pushes.Skip(ReplicaStore.CopiesPerShard + 1).ToArray(), bytes);
        output.WriteLine($"fetch (new arrays):             {fetchSeconds,8:F3} s  {MiBPerSecond(bytes, fetchSeconds),7:N0} MiB/s  ({(intact ? "equal to the pushed copy" : "NOT equal to the pushed copy")})");
        output.WriteLine($"process peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024):N0} MiB (the source, two held copies and the fetched one: {4 * bytes / (1024.0 * 1024):N0} MiB)");
        return intact ? 0 : 1;
    }

    private static void Summary(TextWriter output, string what, double[] seconds, long bytes)
    {
        var median = seconds.Order().ElementAt(seconds.Length / 2);
        output.WriteLine($"{what + ", median:",-32}{median,8:F3} s  {MiBPerSecond(bytes, median),7:N0} MiB/s");
    }

    private static ReplicaKey Key(long step) => new("bench", 1, 0, step);

    private static double MiBPerSecond(long bytes, double seconds) => bytes / (1024.0 * 1024) / seconds;

    /// <summary>A shard whose three arrays hold distinct values, written in parallel (gigabytes of them).</summary>
    private static OptimizerShard Filled(long length)
    {
        var arrays = Enumerable.Range(0, 3).Select(_ => GC.AllocateUninitializedArray<float>((int)length)).ToArray();
        Parallel.For(0, 3 * 64, part =>
        {
            var array = arrays[part / 64];
            var from = length * (part % 64) / 64;
            var to = length * (part % 64 + 1) / 64;
            for (var i = from; i < to; i++) array[i] = (part / 64 + 1) * 1e-3f * (i % 9973);
        });
        return new OptimizerShard(0, length, arrays[0], arrays[1], arrays[2], 7);
    }
}
