using static TorchSharp.torch;

namespace Forge.Model.Distributed;

/// <summary>
/// The group of one: every collective is a local copy or nothing. Lets a single CPU or GPU rank run
/// the same engine code path as a world of many, with no sockets or NCCL communicator to set up.
/// </summary>
public sealed class SingleRankCollectives : ICollectives
{
    private string? _abortReason;

    public int Rank => 0;
    public int WorldSize => 1;

    public void ReduceScatter(Tensor input, Tensor output)
    {
        ThrowIfAborted();
        RequireSameSize(input, output);
        using var _ = no_grad();
        output.copy_(input.view(output.shape));
    }

    public void AllGather(Tensor input, Tensor output)
    {
        ThrowIfAborted();
        RequireSameSize(input, output);
        using var _ = no_grad();
        output.copy_(input.view(output.shape));
    }

    public void AllReduceSum(Tensor tensor) => ThrowIfAborted();

    public void Broadcast(Tensor tensor, int root)
    {
        ThrowIfAborted();
        if (root != 0) throw new ArgumentOutOfRangeException(nameof(root), root, "a group of one has only rank 0");
    }

    public void Abort(string reason) => _abortReason ??= reason;

    public void Dispose() => Abort("disposed");

    private void ThrowIfAborted()
    {
        if (_abortReason is not null) throw new CollectiveException($"the collective group was aborted: {_abortReason}");
    }

    private static void RequireSameSize(Tensor input, Tensor output)
    {
        if (input.numel() != output.numel())
            throw new ArgumentException($"a group of one needs input and output of equal size, got {input.numel()} and {output.numel()}");
    }
}
