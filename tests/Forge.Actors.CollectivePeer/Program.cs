using Forge.Actors.Collectives.Tcp;
using TorchSharp;

// Usage: <group id, base64> <rank> <world size> <scenario>
//   exchange: runs CollectiveScenario.Exchange as this rank and exits 0 when every result is right.
//   stall:    joins, answers one all-reduce, then waits to be killed (the test's dead peer).
// Or:    replica-half <endpoint> <replica secret, hex>
//   sends half of a buddy replica's copy to the replica channel at <endpoint>, then waits to be killed
//   (the test's sender that dies mid-copy).
if (args[0] == "replica-half") return Forge.Actors.CollectivePeer.HalfReplicaSender.Run(args[1], args[2]);

var groupId = Convert.FromBase64String(args[0]);
var rank = int.Parse(args[1]);
var worldSize = int.Parse(args[2]);
var scenario = args[3];

using var collectives = TcpCollectiveBackend.Loopback().Join(groupId, rank, worldSize, TimeSpan.FromSeconds(30));
switch (scenario)
{
    case "exchange":
        var failures = Forge.Actors.CollectivePeer.CollectiveScenario.Exchange(collectives);
        foreach (var failure in failures) Console.Error.WriteLine(failure);
        return failures.Count == 0 ? 0 : 1;
    case "stall":
        using (var t = torch.ones(3)) collectives.AllReduceSum(t);
        Console.Out.WriteLine("stalling");
        Console.Out.Flush();
        Thread.Sleep(Timeout.Infinite);
        return 0;
    default:
        Console.Error.WriteLine($"unknown scenario '{scenario}'");
        return 2;
}
