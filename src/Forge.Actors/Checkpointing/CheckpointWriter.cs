using System.Threading.Channels;
using Forge.Model.Optim;

namespace Forge.Actors.Checkpointing;

/// <summary>
/// Writes shards in the background so training continues while a checkpoint is saved. The caller
/// hands over a shard already copied off the device; <see cref="EnqueueAsync"/> returns as soon as
/// the shard is queued. The queue is bounded: when the store falls behind, the caller waits for a
/// slot (the only training stall) instead of memory growing one shard copy per checkpoint.
/// </summary>
public sealed class CheckpointWriter : IAsyncDisposable
{
    private sealed record Pending(string JobId, long Step, int Rank, OptimizerShard Shard, TaskCompletionSource<ShardReceipt> Receipt);

    private readonly ICheckpointStore _store;
    private readonly Channel<Pending> _queue;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _worker;

    /// <param name="capacity">Shards waiting behind the one being written (each is a full host copy of a shard).</param>
    public CheckpointWriter(ICheckpointStore store, int capacity = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _store = store;
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _worker = Task.Run(WriteLoopAsync);
    }

    /// <summary>Queues the shard; completes when it is queued, not when it is durable (await <see cref="QueuedShardSave.Durable"/> for that).</summary>
    public async ValueTask<QueuedShardSave> EnqueueAsync(string jobId, long step, int rank, OptimizerShard shard, CancellationToken ct = default)
    {
        var receipt = new TaskCompletionSource<ShardReceipt>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _queue.Writer.WriteAsync(new Pending(jobId, step, rank, shard, receipt), ct);
        return new QueuedShardSave(jobId, step, rank, receipt.Task);
    }

    private async Task WriteLoopAsync()
    {
        await foreach (var pending in _queue.Reader.ReadAllAsync())
        {
            try
            {
                pending.Receipt.SetResult(await _store.SaveShardAsync(pending.JobId, pending.Step, pending.Rank, pending.Shard, _stopping.Token));
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                pending.Receipt.SetCanceled(_stopping.Token);
            }
            catch (Exception e)
            {
                // A failed save fails only its own checkpoint (it never commits); later ones still run.
                pending.Receipt.SetException(e);
            }
        }
    }

    /// <summary>Finishes every queued save, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _worker;
        _stopping.Dispose();
    }

    /// <summary>Abandons queued saves (their receipts are cancelled); for shutdown on failure.</summary>
    public async Task AbortAsync()
    {
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync();
        while (_queue.Reader.TryRead(out var pending)) pending.Receipt.TrySetCanceled();
        await _worker;
    }
}
