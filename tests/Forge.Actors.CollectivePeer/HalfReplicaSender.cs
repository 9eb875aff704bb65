using Forge.Actors.Replication;
using Forge.Model.Optim;

namespace Forge.Actors.CollectivePeer;

/// <summary>A buddy replica's sender that stops halfway through its copy and waits for its SIGKILL.</summary>
public static class HalfReplicaSender
{
    /// <param name="secretHex">The job's replica secret: the sender proves it first, as a real sender does.</param>
    public static int Run(string endpoint, string secretHex)
    {
        const int length = 1 << 20;
        var shard = new OptimizerShard(0, length, new float[length], new float[length], new float[length], 7);
        using var buffer = new MemoryStream();
        var key = new ReplicaKey("job", 3, 1, 14);
        ReplicaWire.WriteRequest(buffer, ReplicaWire.Kind.Push, key);
        ReplicaWire.WriteCopy(buffer, shard, 0, length, 0);
        using var stream = ReplicaClient.Connect(endpoint, Convert.FromHexString(secretHex), key);
        stream.Write(buffer.GetBuffer().AsSpan(0, (int)buffer.Length / 2));
        stream.Flush();
        Console.Out.WriteLine("half-sent");
        Console.Out.Flush();
        Thread.Sleep(Timeout.Infinite);
        return 0;
    }
}
