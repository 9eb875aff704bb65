using Forge.Actors.Checkpointing;
using Forge.Model.Optim;

namespace Forge.Actors.Tests.Checkpointing;

/// <summary>The restore's parallel readers: chunks streamed into place on reader threads, slices reported as they are verified.</summary>
public sealed class ParallelRestoreTests : IAsyncLifetime
{
    private static readonly long FourElementChunks = ShardChunkFormat.ChunkBytesFor(4);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "forge-ckpt-tests", $"restore-{Guid.NewGuid():N}");

    private CheckpointStoreSettings Settings(int readers) =>
        CheckpointStoreSettings.Sqlite(Path.Combine(_directory, "checkpoints.db")) with
        {
            Writers = 4, ChunkBytes = FourElementChunks, MaxParallelReads = readers,
        };

    [Fact]
    public async Task EightReadersRestoreTheSameBytesAsOneReaderForRangesThatCutChunks()
    {
        var jobId = TestStores.NewJobId("readers");
        var state = new TrainingState(seed: 60);
        CheckpointManifest manifest;
        await using (var writer = await SqlCheckpointStore.OpenAsync(Settings(readers: 1)))
            manifest = await state.SaveAndCommitAsync(writer, jobId, step: 9, worldSize: 3);

        await using var serial = await SqlCheckpointStore.OpenAsync(Settings(readers: 1));
        await using var parallel = await SqlCheckpointStore.OpenAsync(Settings(readers: 8));
        // Whole layout, ranges starting and ending inside chunks and inside shards, one element.
        foreach (var (start, length) in new[] { (0L, 65L), (3L, 30L), (21L, 1L), (10L, 50L), (63L, 2L) })
        {
            var one = await serial.LoadRangeAsync(manifest, start, length);
            var eight = await parallel.LoadRangeAsync(manifest, start, length);
            state.AssertBitExact(eight);
            TrainingState.AssertBits(one.Master, eight.Master, $"master [{start}, {start + length})");
            TrainingState.AssertBits(one.ExpAvg, eight.ExpAvg, $"exp_avg [{start}, {start + length})");
            TrainingState.AssertBits(one.ExpAvgSq, eight.ExpAvgSq, $"exp_avg_sq [{start}, {start + length})");
        }
    }

    [Fact]
    public async Task ARestoreIntoGivenBuffersReportsSlicesThatTileItsRangePaddingIncluded()
    {
        var jobId = TestStores.NewJobId("slices");
        var state = new TrainingState(seed: 61, optimizerStep: 12);
        await using var store = await SqlCheckpointStore.OpenAsync(Settings(readers: 8));
        var manifest = await state.SaveAndCommitAsync(store, jobId, step: 4, worldSize: 2);
        // The last rank of a world of four: its range runs past the 65 elements into padding.
        var range = ShardRange.For(ShardRange.PaddedNumel(65, 4), 3, 4);
        Assert.True(range.End > 65);
        var n = (int)range.Length;
        var target = new OptimizerShard(range.Start, range.Length, Filled(n), Filled(n), Filled(n), Step: 0);
        var slices = new List<(long Offset, long Count)>();

        var step = await store.LoadRangeIntoAsync(manifest, target, (offset, count) => { lock (slices) slices.Add((offset, count)); });

        Assert.Equal(12, step);
        var cursor = 0L;
        foreach (var (offset, count) in slices.OrderBy(s => s.Offset))
        {
            Assert.Equal(cursor, offset);
            cursor += count;
        }
        Assert.Equal(range.Length, cursor);
        state.AssertBitExact(target with { Step = step });
    }

    [Fact]
    public async Task ACorruptChunkAmongParallelReadersIsNamedAndItsSliceIsNeverReportedAsRead()
    {
        var jobId = TestStores.NewJobId("corrupt-parallel");
        var state = new TrainingState(seed: 62);
        var settings = Settings(readers: 8);
        await using var store = await SqlCheckpointStore.OpenAsync(settings);
        var manifest = await state.SaveAndCommitAsync(store, jobId, step: 8, worldSize: 1);
        var bad = manifest.Shards.Single().Chunks.Single(c => c.Index == 5);
        // Chunk 5 holds elements [20, 24); the flipped byte is in its last state run (exp_avg_sq).
        await FlipByteInPartAsync(settings, bad.Part, CheckpointPersistenceIds.Chunk(jobId, 0, 5), 8,
            ShardChunkFormat.HeaderBytes + 2 * 4 * sizeof(float) + 1);
        var target = new OptimizerShard(0, 65, Filled(65), Filled(65), Filled(65), Step: 0);
        var slices = new List<(long Offset, long Count)>();

        var error = await Assert.ThrowsAsync<CheckpointCorruptException>(() =>
            store.LoadRangeIntoAsync(manifest, target, (offset, count) => { lock (slices) slices.Add((offset, count)); }));

        Assert.Equal(((int?)0, (int?)5), (error.Rank, error.ChunkIndex));
        Assert.Contains("checksum", error.Message);
        Assert.DoesNotContain(slices, s => s.Offset < 24 && s.Offset + s.Count > 20);
    }

    private static float[] Filled(int n) => Enumerable.Repeat(float.NaN, n).ToArray();

    private static async Task FlipByteInPartAsync(CheckpointStoreSettings settings, int part, string persistenceId, long step, int offset)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(settings.PartConnectionString(part));
        await connection.OpenAsync();
        await using var read = connection.CreateCommand();
        read.CommandText = "SELECT snapshot FROM snapshot WHERE persistence_id = @id AND sequence_number = @step";
        read.Parameters.AddWithValue("@id", persistenceId);
        read.Parameters.AddWithValue("@step", step);
        var bytes = (byte[])(await read.ExecuteScalarAsync())!;
        bytes[offset] ^= 0xFF;
        await using var write = connection.CreateCommand();
        write.CommandText = "UPDATE snapshot SET snapshot = @bytes WHERE persistence_id = @id AND sequence_number = @step";
        write.Parameters.AddWithValue("@bytes", bytes);
        write.Parameters.AddWithValue("@id", persistenceId);
        write.Parameters.AddWithValue("@step", step);
        Assert.Equal(1, await write.ExecuteNonQueryAsync());
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { /* a pooled handle; the temp dir is disposable */ }
        return Task.CompletedTask;
    }
}
