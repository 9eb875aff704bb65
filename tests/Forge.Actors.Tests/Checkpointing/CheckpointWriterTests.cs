using Forge.Actors.Checkpointing;
using Forge.Model.Optim;

namespace Forge.Actors.Tests.Checkpointing;

public sealed class CheckpointWriterTests
{
    /// <summary>The real SQLite store behind a gate the test opens, so "still writing" is a state, not a race.</summary>
    private sealed class GatedStore(ICheckpointStore inner) : ICheckpointStore
    {
        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public SemaphoreSlim SavesStarted { get; } = new(0);

        public async Task<ShardReceipt> SaveShardAsync(string jobId, long step, int rank, OptimizerShard shard, CancellationToken ct = default)
        {
            SavesStarted.Release();
            await Gate.Task.WaitAsync(ct);
            return await inner.SaveShardAsync(jobId, step, rank, shard, ct);
        }

        public Task CommitAsync(CheckpointManifest manifest, CancellationToken ct = default) => inner.CommitAsync(manifest, ct);
        public Task<CheckpointManifest?> LatestAsync(string jobId, CancellationToken ct = default) => inner.LatestAsync(jobId, ct);
        public Task<IReadOnlyList<CheckpointManifest>> ListAsync(string jobId, CancellationToken ct = default) => inner.ListAsync(jobId, ct);
        public Task<OptimizerShard> LoadRangeAsync(CheckpointManifest manifest, long start, long length, CancellationToken ct = default) =>
            inner.LoadRangeAsync(manifest, start, length, ct);
    }

    [Fact]
    public async Task TrainingContinuesWhileAShardIsWrittenAndTheQueueBoundsWaitingShards()
    {
        await using var db = await TestStores.OpenAsync(CheckpointStoreKind.Sqlite);
        var gated = new GatedStore(db.Store);
        var jobId = TestStores.NewJobId("writer");
        var states = Enumerable.Range(0, 3).Select(i => new TrainingState(seed: 50 + i)).ToArray();
        await using var writer = new CheckpointWriter(gated, capacity: 1);

        // First shard: handed over at once while the store is still blocked.
        var first = await writer.EnqueueAsync(jobId, 1, 0, states[0].ShardFor(1, 0));
        await gated.SavesStarted.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(first.Durable.IsCompleted);

        // Second shard fills the one queue slot; the third must wait for room (bounded memory).
        var second = await writer.EnqueueAsync(jobId, 2, 0, states[1].ShardFor(1, 0));
        var third = writer.EnqueueAsync(jobId, 3, 0, states[2].ShardFor(1, 0)).AsTask();
        await Task.Delay(200);
        Assert.False(third.IsCompleted, "a third shard was accepted while one was being written and one was queued");

        gated.Gate.SetResult();
        var thirdSave = await third.WaitAsync(TimeSpan.FromSeconds(30));
        var saves = new[] { first, second, thirdSave };
        for (var i = 0; i < saves.Length; i++)
        {
            var receipt = await saves[i].Durable.WaitAsync(TimeSpan.FromSeconds(30));
            var manifest = states[i].ManifestFor(jobId, i + 1, 1, [receipt]);
            await db.Store.CommitAsync(manifest);
            states[i].AssertBitExact(await db.Store.LoadRangeAsync(manifest, 0, 65));
        }
    }

    [Fact]
    public async Task AFailedSaveFailsItsOwnReceiptAndLaterSavesStillComplete()
    {
        await using var db = await TestStores.OpenAsync(CheckpointStoreKind.Sqlite);
        var jobId = TestStores.NewJobId("writer-failure");
        var state = new TrainingState(seed: 60);
        await using var writer = new CheckpointWriter(db.Store);

        var broken = state.ShardFor(1, 0) with { Length = 99 }; // arrays hold 65
        var failed = await writer.EnqueueAsync(jobId, 1, 0, broken);
        var healthy = await writer.EnqueueAsync(jobId, 2, 0, state.ShardFor(1, 0));

        var error = await Assert.ThrowsAsync<ArgumentException>(() => failed.Durable);
        Assert.Contains("claims 99 elements", error.Message);
        var receipt = await healthy.Durable;
        Assert.Equal(65, receipt.Length);
    }
}
