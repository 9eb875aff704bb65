using Forge.Model.Distributed;
using TorchSharp;

namespace Forge.Actors.Tests.Ranks.Fakes;

/// <summary>A backend whose groups move no data; what it models is joining and aborting.</summary>
public sealed class FakeCollectiveBackend : ICollectiveBackend
{
    private int _groups;
    public string Name => "fake";
    public List<(byte[] GroupId, int Rank, int WorldSize)> Joins { get; } = [];

    public byte[] CreateGroupId() => BitConverter.GetBytes(Interlocked.Increment(ref _groups));

    public ICollectives Join(byte[] groupId, int rank, int worldSize, TimeSpan timeout)
    {
        lock (Joins) Joins.Add((groupId, rank, worldSize));
        return new FakeCollectives(rank, worldSize);
    }
}

/// <summary>Collectives that only know whether they were aborted: a "hung" collective waits on that.</summary>
public sealed class FakeCollectives(int rank, int worldSize) : ICollectives
{
    private readonly CancellationTokenSource _aborted = new();
    public int Rank => rank;
    public int WorldSize => worldSize;
    public bool Disposed { get; private set; }

    /// <summary>Blocks like a collective whose peer died, until the group is aborted.</summary>
    public void HangUntilAborted()
    {
        _aborted.Token.WaitHandle.WaitOne();
        throw new CollectiveException("fake collective aborted");
    }

    public void ReduceScatter(torch.Tensor input, torch.Tensor output) => throw new NotSupportedException();
    public void AllGather(torch.Tensor input, torch.Tensor output) => throw new NotSupportedException();
    public void AllReduceSum(torch.Tensor tensor) => throw new NotSupportedException();
    public void Broadcast(torch.Tensor tensor, int root) => throw new NotSupportedException();
    public void Abort(string reason) => _aborted.Cancel();
    public void Dispose() => Disposed = true;
}
