using static TorchSharp.torch;

namespace Forge.Model.Distributed;

/// <summary>
/// The collectives a data-parallel step needs, over one group of ranks. Implementations: NCCL
/// (GPU) and a CPU backend whose bytes travel on its own TCP data plane (never Akka remoting).
/// All calls are in place and blocking from the caller's point of view; every rank of the group
/// must make the same calls in the same order.
/// </summary>
public interface ICollectives : IDisposable
{
    int Rank { get; }
    int WorldSize { get; }

    /// <summary>input has WorldSize * output.numel() elements; output gets the sum of every rank's chunk `Rank`.</summary>
    void ReduceScatter(Tensor input, Tensor output);

    /// <summary>output has WorldSize * input.numel() elements; chunk r of output is rank r's input.</summary>
    void AllGather(Tensor input, Tensor output);

    /// <summary>Element-wise sum over ranks, in place.</summary>
    void AllReduceSum(Tensor tensor);

    /// <summary>Rank `root`'s tensor replaces everyone's, in place.</summary>
    void Broadcast(Tensor tensor, int root);

    /// <summary>Abandons the group: pending and later calls on every reachable rank fail instead of hanging.</summary>
    void Abort(string reason);
}

/// <summary>
/// Forms collective groups. Rank 0 creates the group id (an NCCL unique id, or the CPU backend's
/// rendezvous address); the supervisor hands it to every rank, which then joins.
/// </summary>
public interface ICollectiveBackend
{
    string Name { get; }
    byte[] CreateGroupId();
    ICollectives Join(byte[] groupId, int rank, int worldSize, TimeSpan timeout);
}

/// <summary>A collective failed: a peer died, the group was aborted, or a timeout passed.</summary>
public sealed class CollectiveException(string message, Exception? inner = null) : Exception(message, inner);
