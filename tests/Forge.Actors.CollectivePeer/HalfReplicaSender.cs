using System.Net.Sockets;
using Forge.Actors.Replication;
using Forge.Model.Optim;

namespace Forge.Actors.CollectivePeer;

/// <summary>A buddy replica's sender that stops halfway through its copy and waits for its SIGKILL.</summary>
public static class HalfReplicaSender
{
    public static int Run(string endpoint)
    {
        const int length = 1 << 20;
        var shard = new OptimizerShard(0, length, new float[length], new float[length], new float[length], 7);
        using var buffer = new MemoryStream();
        ReplicaWire.WriteRequest(buffer, ReplicaWire.Kind.Push, new ReplicaKey("job", 3, 1, 14));
        ReplicaWire.WriteCopy(buffer, shard, 0, length, 0);
        var colon = endpoint.LastIndexOf(':');
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(endpoint[..colon], int.Parse(endpoint[(colon + 1)..]));
        socket.Send(buffer.GetBuffer().AsSpan(0, (int)buffer.Length / 2));
        Console.Out.WriteLine("half-sent");
        Console.Out.Flush();
        Thread.Sleep(Timeout.Infinite);
        return 0;
    }
}
