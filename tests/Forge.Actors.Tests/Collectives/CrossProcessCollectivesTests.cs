using System.Diagnostics;
using System.Reflection;
using Forge.Actors.Collectives.Tcp;
using Forge.Actors.CollectivePeer;
using Forge.Model.Distributed;
using static TorchSharp.torch;

namespace Forge.Actors.Tests.Collectives;

/// <summary>Rank 0 in the test process, the other ranks in separate `dotnet` processes.</summary>
public class CrossProcessCollectivesTests
{
    [Fact]
    public void RanksInThreeProcessesAgreeOnEveryCollective()
    {
        var backend = TcpCollectiveBackend.Loopback();
        var id = backend.CreateGroupId();
        var peers = new[] { StartPeer(id, 1, 3, "exchange"), StartPeer(id, 2, 3, "exchange") };
        try
        {
            using var group = backend.Join(id, 0, 3, TimeSpan.FromSeconds(60));
            Assert.Empty(CollectiveScenario.Exchange(group));
            foreach (var peer in peers)
            {
                Assert.True(peer.WaitForExit(60_000), "a peer process did not exit");
                Assert.True(peer.ExitCode == 0, $"peer failed: {peer.StandardError.ReadToEnd()}");
            }
        }
        finally
        {
            foreach (var peer in peers) Stop(peer);
        }
    }

    [Fact]
    public void KillingAPeerProcessFailsTheSurvivorWithACollectiveException()
    {
        var backend = TcpCollectiveBackend.Loopback();
        var id = backend.CreateGroupId();
        var peer = StartPeer(id, 1, 2, "stall");
        try
        {
            var timeout = TimeSpan.FromSeconds(30);
            using var group = backend.Join(id, 0, 2, timeout);
            using (var t = ones(3)) group.AllReduceSum(t);
            Assert.Equal("stalling", peer.StandardOutput.ReadLine());
            peer.Kill();
            peer.WaitForExit(10_000);

            var clock = Stopwatch.StartNew();
            using var u = ones(3);
            Assert.Throws<CollectiveException>(() => group.AllReduceSum(u));
            // The OS closes a dead process's sockets, so the survivor must not wait for its timeout.
            Assert.True(clock.Elapsed < timeout / 2, $"the survivor took {clock.Elapsed}");
        }
        finally
        {
            Stop(peer);
        }
    }

    private static Process StartPeer(byte[] groupId, int rank, int worldSize, string scenario)
    {
        var directory = typeof(CrossProcessCollectivesTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "CollectivePeerDirectory").Value!;
        var dll = Path.Combine(directory, "Forge.Actors.CollectivePeer.dll");
        Assert.True(File.Exists(dll), $"the peer program was not built at {dll}");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { dll, Convert.ToBase64String(groupId), rank.ToString(), worldSize.ToString(), scenario })
            start.ArgumentList.Add(arg);
        return Process.Start(start) ?? throw new InvalidOperationException("could not start the peer process");
    }

    private static void Stop(Process process)
    {
        if (!process.HasExited) process.Kill();
        process.Dispose();
    }
}
