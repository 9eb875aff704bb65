using Forge.Actors.Collectives.Tcp;
using Forge.Model.Distributed;

namespace Forge.Actors.Tests.Collectives;

/// <summary>Runs one body per rank, each on its own thread, over a TCP group on the loopback interface.</summary>
public static class LoopbackGroup
{
    public static T[] Run<T>(int worldSize, Func<ICollectives, T> body, TimeSpan? timeout = null)
    {
        var backend = TcpCollectiveBackend.Loopback();
        var groupId = backend.CreateGroupId();
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var ranks = Enumerable.Range(0, worldSize).Select(rank => Task.Factory.StartNew(() =>
        {
            using var group = backend.Join(groupId, rank, worldSize, limit);
            return body(group);
        }, TaskCreationOptions.LongRunning)).ToArray();
        // A guard against a hung group, not a measure: the bodies assert their own timings. The slack covers the
        // joins' handshakes on a loaded machine (the suite runs test classes in parallel on two cores).
        var guard = limit * 2 + TimeSpan.FromSeconds(10);
        if (!Task.WaitAll(ranks, guard)) throw new TimeoutException($"a {worldSize}-rank loopback group did not finish within {guard}");
        return ranks.Select(t => t.Result).ToArray();
    }
}
