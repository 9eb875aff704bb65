using Forge.Actors.Checkpointing;
using Forge.Model.Optim;
using Microsoft.Data.Sqlite;

namespace Forge.Actors.Tests.Checkpointing;

/// <summary>A SQLite store with several writers: one file per writer, each chunk's part in its receipt.</summary>
public sealed class SqliteStorePartsTests : IAsyncLifetime
{
    private static readonly long FourElementChunks = ShardChunkFormat.ChunkBytesFor(4);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "forge-ckpt-tests", $"parts-{Guid.NewGuid():N}");

    private CheckpointStoreSettings Settings(int writers, int keepLastN = 0) =>
        CheckpointStoreSettings.Sqlite(Path.Combine(_directory, "checkpoints.db")) with
        {
            Writers = writers, ChunkBytes = FourElementChunks, KeepLastN = keepLastN,
        };

    [Fact]
    public async Task FourWritersSpreadAShardsChunksOverFourFilesAndEveryWorldSizeReadsThemBackBitExact()
    {
        var settings = Settings(writers: 4);
        await using var store = await SqlCheckpointStore.OpenAsync(settings);
        var jobId = TestStores.NewJobId("parts");
        var state = new TrainingState(seed: 40);

        var manifest = await state.SaveAndCommitAsync(store, jobId, step: 7, worldSize: 2);

        foreach (var shard in manifest.Shards)
            Assert.Equal(shard.Chunks.Select(c => settings.PartFor(shard.Rank, c.Index)), shard.Chunks.Select(c => c.Part));
        for (var part = 0; part < 4; part++)
            Assert.True(await ChunkRowsAsync(settings, part, jobId, step: 7) > 0, $"part {part} ({settings.SqlitePartFile(part)}) holds none of the chunks");
        var total = manifest.Shards.Sum(s => s.Chunks.Count);
        Assert.Equal(total, await ChunkRowsAsync(settings, 0, jobId, 7) + await ChunkRowsAsync(settings, 1, jobId, 7) +
                            await ChunkRowsAsync(settings, 2, jobId, 7) + await ChunkRowsAsync(settings, 3, jobId, 7));
        Assert.Empty(await store.MissingChunksAsync(manifest));
        for (var worldSize = 1; worldSize <= 3; worldSize++)
        for (var rank = 0; rank < worldSize; rank++)
        {
            var range = ShardRange.For(ShardRange.PaddedNumel(state.Layout.Numel, worldSize), rank, worldSize);
            state.AssertBitExact(await store.LoadRangeAsync(manifest, range.Start, range.Length));
        }
    }

    [Fact]
    public async Task ACheckpointWrittenWithFourWritersReadsThroughAStoreOpenedWithOne()
    {
        var jobId = TestStores.NewJobId("fewer-writers");
        var state = new TrainingState(seed: 41);
        await using (var wide = await SqlCheckpointStore.OpenAsync(Settings(writers: 4)))
            await state.SaveAndCommitAsync(wide, jobId, step: 3, worldSize: 1);

        await using var narrow = await SqlCheckpointStore.OpenAsync(Settings(writers: 1));
        var latest = await narrow.LatestAsync(jobId);

        Assert.Equal(3, latest!.Step);
        Assert.Equal(4, latest.Shards.Single().Chunks.Select(c => c.Part).Distinct().Count());
        state.AssertBitExact(await narrow.LoadRangeAsync(latest, 0, state.Layout.Numel));
    }

    [Fact]
    public async Task AMissingPartFileMakesItsCheckpointsUnreadableNamesTheFileAndIsNotRecreated()
    {
        var settings = Settings(writers: 3);
        var jobId = TestStores.NewJobId("lost-part");
        var state = new TrainingState(seed: 42);
        await using (var store = await SqlCheckpointStore.OpenAsync(settings))
            await state.SaveAndCommitAsync(store, jobId, step: 5, worldSize: 1);
        SqliteConnection.ClearAllPools();
        var lost = settings.SqlitePartFile(2);
        File.Delete(lost);

        // Opened with one writer, so that opening creates no part file: only reading could.
        await using var reopened = await SqlCheckpointStore.OpenAsync(settings with { Writers = 1 });
        var (committed, unreadable) = await reopened.ListWithUnreadableAsync(jobId);

        Assert.Empty(committed);
        var reason = Assert.Single(unreadable);
        Assert.Contains($"not in SQLite file {lost} (no such file)", reason.Message);
        Assert.Null(await reopened.LatestAsync(jobId));
        var manifest = state.ManifestFor(jobId, 5, 1, [new ShardReceipt(0, 0, state.Layout.Numel,
            [new ChunkInfo(0, ShardChunkFormat.ChunkBytesFor(state.Layout.Numel), "xxh3:0000000000000000", Part: 2)])]);
        var error = await Assert.ThrowsAsync<CheckpointCorruptException>(() => reopened.LoadRangeAsync(manifest, 0, 4));
        Assert.Contains(lost, error.Message);
        Assert.False(File.Exists(lost), "reading must not create the missing part file");
    }

    [Fact]
    public async Task KeepLastNPrunesOlderChunksFromEveryPart()
    {
        var settings = Settings(writers: 3, keepLastN: 1);
        await using var store = await SqlCheckpointStore.OpenAsync(settings);
        var jobId = TestStores.NewJobId("prune-parts");
        var state = new TrainingState(seed: 43);
        await state.SaveAndCommitAsync(store, jobId, step: 1, worldSize: 2);
        for (var part = 0; part < 3; part++) Assert.True(await ChunkRowsAsync(settings, part, jobId, step: 1) > 0);

        await state.SaveAndCommitAsync(store, jobId, step: 2, worldSize: 2);

        for (var part = 0; part < 3; part++)
        {
            Assert.Equal(0, await ChunkRowsAsync(settings, part, jobId, step: 1));
            Assert.True(await ChunkRowsAsync(settings, part, jobId, step: 2) > 0);
        }
        Assert.Equal([2L], (await store.ListAsync(jobId)).Select(m => m.Step));
    }

    [Fact]
    public void AManifestWrittenBeforeStoresHadPartsNamesTheMainFileForEveryChunk()
    {
        var state = new TrainingState(seed: 44);
        var manifest = state.ManifestFor("old-job", 9, 1, [new ShardReceipt(0, 0, state.Layout.Numel,
            [new ChunkInfo(0, ShardChunkFormat.ChunkBytesFor(state.Layout.Numel), "xxh3:0123456789abcdef", Part: 3)])]);
        var json = System.Text.Encoding.UTF8.GetString(CheckpointManifestJson.Serialize(manifest));
        Assert.Contains(",\"Part\":3", json);

        var old = CheckpointManifestJson.Deserialize(System.Text.Encoding.UTF8.GetBytes(json.Replace(",\"Part\":3", "")), "old-job", 9);

        Assert.Equal(0, old.Shards.Single().Chunks.Single().Part);
    }

    private static async Task<long> ChunkRowsAsync(CheckpointStoreSettings settings, int part, string jobId, long step)
    {
        await using var connection = new SqliteConnection(settings.PartConnectionString(part));
        await connection.OpenAsync();
        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM snapshot WHERE persistence_id LIKE @prefix AND sequence_number = @step";
        count.Parameters.AddWithValue("prefix", CheckpointPersistenceIds.ChunkPrefix(jobId) + "%");
        count.Parameters.AddWithValue("step", step);
        return Convert.ToInt64(await count.ExecuteScalarAsync());
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { /* a pooled handle; the temp dir is disposable */ }
        return Task.CompletedTask;
    }
}
