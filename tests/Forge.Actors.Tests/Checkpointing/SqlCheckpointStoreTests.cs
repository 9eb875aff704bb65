using Forge.Actors.Ranks;
using Forge.Actors.Checkpointing;
using Forge.Model.Optim;

namespace Forge.Actors.Tests.Checkpointing;

/// <summary>The store's promises, each proven on a SQLite file and on PostgreSQL.</summary>
public sealed class SqlCheckpointStoreTests
{
    // 4 elements per chunk: every shard of the 65-element test layout spans several chunks, and
    // chunk boundaries fall inside the ranges other world sizes read.
    private static readonly long FourElementChunks = ShardChunkFormat.ChunkBytesFor(4);

    [Theory, SqliteStore, PostgresStore]
    public async Task SavedCheckpointLoadsBackBitExactWithItsManifest(CheckpointStoreKind kind)
    {
        await using var db = await TestStores.OpenAsync(kind, FourElementChunks);
        var jobId = TestStores.NewJobId("roundtrip");
        var state = new TrainingState(seed: 1);

        var committed = await state.SaveAndCommitAsync(db.Store, jobId, step: 100, worldSize: 1);
        var latest = await db.Store.LatestAsync(jobId);

        Assert.NotNull(latest);
        Assert.Equal(100, latest.Step);
        Assert.Equal(committed.DataPosition, latest.DataPosition);
        Assert.Equal(committed.SamplesConsumed, latest.SamplesConsumed);
        Assert.Equal(committed.FrozenParameters, latest.FrozenParameters);
        Assert.Equal(committed.Layout.Parameters.Select(p => (p.Name, string.Join(",", p.Shape), p.Offset)),
                     latest.Layout.Parameters.Select(p => (p.Name, string.Join(",", p.Shape), p.Offset)));
        Assert.Equal(committed.Shards.Single().Chunks, latest.Shards.Single().Chunks);
        Assert.NotEqual(default, latest.CommittedAt);
        state.AssertBitExact(await db.Store.LoadRangeAsync(latest, 0, state.Layout.Numel));
    }

    [Theory, SqliteStore, PostgresStore]
    public async Task AnyWorldSizeReadsACheckpointSavedByAnyOtherBitExact(CheckpointStoreKind kind)
    {
        await using var db = await TestStores.OpenAsync(kind, FourElementChunks);
        var jobId = TestStores.NewJobId("reshard");
        var state = new TrainingState(seed: 2);

        for (var savedBy = 1; savedBy <= 4; savedBy++)
        {
            var manifest = await state.SaveAndCommitAsync(db.Store, jobId, step: savedBy, worldSize: savedBy);
            for (var loadedBy = 1; loadedBy <= 4; loadedBy++)
            {
                var padded = ShardRange.PaddedNumel(state.Layout.Numel, loadedBy);
                for (var rank = 0; rank < loadedBy; rank++)
                {
                    var range = ShardRange.For(padded, rank, loadedBy);
                    var shard = await db.Store.LoadRangeAsync(manifest, range.Start, range.Length);
                    Assert.Equal((range.Start, range.Length), (shard.Start, shard.Length));
                    state.AssertBitExact(shard);
                }
            }
        }
    }

    [Theory, SqliteStore, PostgresStore]
    public async Task AOneElementChunkSizeSplitsEveryShardIntoManyChunksThatStillRoundTrip(CheckpointStoreKind kind)
    {
        await using var db = await TestStores.OpenAsync(kind, ShardChunkFormat.ChunkBytesFor(1));
        var jobId = TestStores.NewJobId("tiny-chunks");
        var state = new TrainingState(seed: 3);

        var manifest = await state.SaveAndCommitAsync(db.Store, jobId, step: 1, worldSize: 2);

        foreach (var shard in manifest.Shards)
        {
            Assert.Equal(shard.Length, shard.Chunks.Count);
            Assert.All(shard.Chunks, c => Assert.Equal(ShardChunkFormat.ChunkBytesFor(1), c.Bytes));
            Assert.Equal(shard.Chunks.Count, shard.Chunks.Select(c => c.Checksum).Distinct().Count());
        }
        state.AssertBitExact(await db.Store.LoadRangeAsync(manifest, 0, state.Layout.Numel));
        state.AssertBitExact(await db.Store.LoadRangeAsync(manifest, 31, 5)); // straddles the two shards
    }

    [Theory, SqliteStore, PostgresStore]
    public async Task ShardsSavedWithoutACommittedManifestAreInvisible(CheckpointStoreKind kind)
    {
        await using var db = await TestStores.OpenAsync(kind, FourElementChunks);
        var jobId = TestStores.NewJobId("uncommitted");
        var older = new TrainingState(seed: 4);
        var newer = new TrainingState(seed: 5);
        await older.SaveAndCommitAsync(db.Store, jobId, step: 10, worldSize: 2);

        for (var rank = 0; rank < 2; rank++)
            await db.Store.SaveShardAsync(jobId, 20, rank, newer.ShardFor(2, rank));

        Assert.True(await db.RowCountAsync(jobId, step: 20) > 0, "the step-20 shards should be in the database");
        var latest = await db.Store.LatestAsync(jobId);
        Assert.Equal(10, latest!.Step);
        Assert.Equal([10L], (await db.Store.ListAsync(jobId)).Select(m => m.Step));
        older.AssertBitExact(await db.Store.LoadRangeAsync(latest, 0, older.Layout.Numel));
    }

    [Theory, SqliteStore, PostgresStore]
    public async Task TwoJobsInOneDatabaseNeverSeeOrPruneEachOthersCheckpoints(CheckpointStoreKind kind)
    {
        await using var db = await TestStores.OpenAsync(kind, FourElementChunks, keepLastN: 1);
        var jobA = TestStores.NewJobId("job-a");
        var jobB = TestStores.NewJobId("job-b");
        var stateA = new TrainingState(seed: 6);
        var stateB = new TrainingState(seed: 7);

        await stateB.SaveAndCommitAsync(db.Store, jobB, step: 1, worldSize: 3);
        for (var step = 1; step <= 3; step++)
            await stateA.SaveAndCommitAsync(db.Store, jobA, step, worldSize: 2);

        Assert.Equal([3L], (await db.Store.ListAsync(jobA)).Select(m => m.Step));
        var latestB = Assert.Single(await db.Store.ListAsync(jobB));
        Assert.Equal((jobB, 1L, 3), (latestB.JobId, latestB.Step, latestB.WorldSize));
        stateB.AssertBitExact(await db.Store.LoadRangeAsync(latestB, 0, stateB.Layout.Numel));
        stateA.AssertBitExact(await db.Store.LoadRangeAsync((await db.Store.LatestAsync(jobA))!, 0, stateA.Layout.Numel));
        Assert.Null(await db.Store.LatestAsync(TestStores.NewJobId("job-c")));
    }

    [Theory, SqliteStore, PostgresStore]
    public async Task KeepLastNPrunesOlderCheckpointsOnlyOnceANewerOneIsCommitted(CheckpointStoreKind kind)
    {
        await using var db = await TestStores.OpenAsync(kind, FourElementChunks, keepLastN: 2);
        var jobId = TestStores.NewJobId("prune");
        var states = Enumerable.Range(0, 4).Select(i => new TrainingState(seed: 10 + i)).ToArray();
        await states[1].SaveAndCommitAsync(db.Store, jobId, step: 1, worldSize: 2);
        await states[2].SaveAndCommitAsync(db.Store, jobId, step: 2, worldSize: 2);
        var rowsOfStep1 = await db.RowCountAsync(jobId, step: 1);

        // Step 3's shards are durable but not committed: nothing may be pruned yet.
        var receipts = new List<ShardReceipt>();
        for (var rank = 0; rank < 2; rank++)
            receipts.Add(await db.Store.SaveShardAsync(jobId, 3, rank, states[3].ShardFor(2, rank)));
        Assert.Equal([1L, 2L], (await db.Store.ListAsync(jobId)).Select(m => m.Step));
        Assert.Equal(rowsOfStep1, await db.RowCountAsync(jobId, step: 1));

        await db.Store.CommitAsync(states[3].ManifestFor(jobId, 3, 2, receipts));

        var kept = await db.Store.ListAsync(jobId);
        Assert.Equal([2L, 3L], kept.Select(m => m.Step));
        Assert.Equal(0, await db.RowCountAsync(jobId, step: 1));
        states[2].AssertBitExact(await db.Store.LoadRangeAsync(kept[0], 0, 65));
        states[3].AssertBitExact(await db.Store.LoadRangeAsync(kept[1], 0, 65));
    }

    [Theory, SqliteStore, PostgresStore]
    public async Task CommittingAnEarlierStepSupersedesTheManifestsOfAnAbandonedLaterTimeline(CheckpointStoreKind kind)
    {
        await using var db = await TestStores.OpenAsync(kind, FourElementChunks, keepLastN: 2);
        var jobId = TestStores.NewJobId("timeline");
        var abandoned = new TrainingState(seed: 25);
        var resumed = new TrainingState(seed: 26);
        await abandoned.SaveAndCommitAsync(db.Store, jobId, step: 10, worldSize: 2);
        await abandoned.SaveAndCommitAsync(db.Store, jobId, step: 30, worldSize: 2);

        // The run resumed from step 10 (say step 30 was corrupt) and now commits step 20.
        await resumed.SaveAndCommitAsync(db.Store, jobId, step: 20, worldSize: 2);

        Assert.Equal([10L, 20L], (await db.Store.ListAsync(jobId)).Select(m => m.Step));
        var latest = await db.Store.LatestAsync(jobId);
        Assert.Equal(20, latest!.Step);
        resumed.AssertBitExact(await db.Store.LoadRangeAsync(latest, 0, 65));
    }

    [Theory, SqliteStore, PostgresStore]
    public async Task ACorruptChunkIsNamedByRankAndIndexAndRangesThatAvoidItStillLoad(CheckpointStoreKind kind)
    {
        await using var db = await TestStores.OpenAsync(kind, FourElementChunks);
        var jobId = TestStores.NewJobId("corrupt");
        var good = new TrainingState(seed: 20);
        var bad = new TrainingState(seed: 21);
        await good.SaveAndCommitAsync(db.Store, jobId, step: 50, worldSize: 2);
        var corrupted = await bad.SaveAndCommitAsync(db.Store, jobId, step: 60, worldSize: 2);

        // One byte inside rank 1's chunk 2 (a tensor byte, past the header).
        await db.FlipByteAsync(CheckpointPersistenceIds.Chunk(jobId, 1, 2), 60, ShardChunkFormat.HeaderBytes + 5);

        var error = await Assert.ThrowsAsync<CheckpointCorruptException>(() => db.Store.LoadRangeAsync(corrupted, 0, 65));
        Assert.Equal((jobId, 60L, (int?)1, (int?)2), (error.JobId, error.Step, error.Rank, error.ChunkIndex));
        Assert.Contains("rank 1 chunk 2", error.Message);
        Assert.Contains("checksum", error.Message);
        // Ranges that avoid the bad chunk still load: the damage is local, and named precisely.
        bad.AssertBitExact(await db.Store.LoadRangeAsync(corrupted, 0, 33));
        // A rank restoring its slice of the damaged checkpoint fails with the step the supervisor then falls back from.
        var restoring = await Assert.ThrowsAsync<CheckpointCorruptException>(() => ShardRestore.LoadAsync(db.Store, corrupted, rank: 1, worldSize: 2, CancellationToken.None));
        Assert.Equal(60, restoring.Step);
        good.AssertBitExact(await db.Store.LoadRangeAsync((await db.Store.ListAsync(jobId)).Single(m => m.Step == 50), 0, 65));
    }

    [Theory, SqliteStore]
    public async Task ANewSqliteFileUsesLargePagesAndStillRoundTrips(CheckpointStoreKind kind)
    {
        await using var db = await TestStores.OpenAsync(kind, FourElementChunks);
        var jobId = TestStores.NewJobId("pages");
        var state = new TrainingState(seed: 25);
        var manifest = await state.SaveAndCommitAsync(db.Store, jobId, step: 3, worldSize: 2);

        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(db.Settings.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA page_size";
        Assert.Equal(65536L, (long)(await command.ExecuteScalarAsync())!);
        state.AssertBitExact(await db.Store.LoadRangeAsync(manifest, 0, 65));
    }

    [Theory, SqliteStore, PostgresStore]
    public async Task ADamagedManifestIsNamedListedAndPassedOverForThePreviousCheckpoint(CheckpointStoreKind kind)
    {
        await using var db = await TestStores.OpenAsync(kind, FourElementChunks);
        var jobId = TestStores.NewJobId("manifest");
        var good = new TrainingState(seed: 22);
        await good.SaveAndCommitAsync(db.Store, jobId, step: 70, worldSize: 2);
        await new TrainingState(seed: 23).SaveAndCommitAsync(db.Store, jobId, step: 80, worldSize: 1);

        // The first byte of the manifest's JSON ('{') becomes something else: it no longer parses.
        await db.FlipByteAsync(CheckpointPersistenceIds.Manifest(jobId), 80, 0);

        var listing = await db.Store.ListWithUnreadableAsync(jobId);
        Assert.Equal([70L], listing.Committed.Select(m => m.Step));
        var damaged = Assert.Single(listing.Unreadable);
        Assert.Equal(80, damaged.Step);
        Assert.Contains("manifest", damaged.Message);
        Assert.Equal(70, (await db.Store.LatestAsync(jobId))!.Step);

        var message = await AssertResumePassesOverAsync(db.Store, jobId, worldSize: 2, restoredStep: 70, skippedStep: 80, good);
        Assert.Contains("manifest", message);
    }

    /// <summary>
    /// Finds the resume point on <paramref name="worldSize"/> ranks the product's way (ResumePoint, then each rank's
    /// ShardRestore) and checks that it passed over the damaged checkpoint at <paramref name="skippedStep"/>, said so,
    /// and restored <paramref name="expected"/> bit for bit. Returns what it reported.
    /// </summary>
    private static async Task<string> AssertResumePassesOverAsync(
        ICheckpointStore store, string jobId, int worldSize, long restoredStep, long skippedStep, TrainingState expected)
    {
        var messages = new List<string>();
        var resumeFrom = await ResumePoint.FindAsync(store, jobId, "config-a", messages.Add);

        Assert.Equal(restoredStep, resumeFrom.Step);
        var message = Assert.Single(messages);
        Assert.Contains($"step {skippedStep}", message);
        Assert.Contains($"resuming from step {restoredStep}", message);
        for (var rank = 0; rank < worldSize; rank++)
            expected.AssertBitExact(await ShardRestore.LoadAsync(store, resumeFrom, rank, worldSize, CancellationToken.None));
        return message;
    }

    [Theory, SqliteStore]
    public async Task AJobWhoseOnlyManifestIsDamagedFailsWithTheReasonInsteadOfStartingOver(CheckpointStoreKind kind)
    {
        await using var db = await TestStores.OpenAsync(kind, FourElementChunks);
        var jobId = TestStores.NewJobId("only-manifest");
        await new TrainingState(seed: 24).SaveAndCommitAsync(db.Store, jobId, step: 5, worldSize: 1);
        await db.FlipByteAsync(CheckpointPersistenceIds.Manifest(jobId), 5, 0);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ResumePoint.FindAsync(db.Store, jobId, "config-a", _ => { }));
        Assert.Contains("no readable committed checkpoint", error.Message);
        Assert.Contains("step 5", error.Message);
        Assert.Contains("does not parse", error.Message);
    }

    [Theory, SqliteStore, PostgresStore]
    public async Task ResumingWithAnotherModelConfigIsAClearErrorNotAFallback(CheckpointStoreKind kind)
    {
        await using var db = await TestStores.OpenAsync(kind, FourElementChunks);
        var jobId = TestStores.NewJobId("config");
        var state = new TrainingState(seed: 30);
        await state.SaveAndCommitAsync(db.Store, jobId, step: 1, worldSize: 1, configHash: "sha256:aaaa");
        await state.SaveAndCommitAsync(db.Store, jobId, step: 2, worldSize: 1, configHash: "sha256:aaaa");

        var error = await Assert.ThrowsAsync<CheckpointIncompatibleException>(() =>
            ResumePoint.FindAsync(db.Store, jobId, "sha256:bbbb", _ => { }));

        Assert.Contains("sha256:aaaa", error.Message);
        Assert.Contains("sha256:bbbb", error.Message);
        Assert.Contains("step 2", error.Message);
    }

    [Theory, PostgresStore]
    public async Task PostgreSqlStoresChunksOutOfLineWithoutACompressionAttempt(CheckpointStoreKind kind)
    {
        await using var db = await TestStores.OpenAsync(kind);
        await using var connection = new Npgsql.NpgsqlConnection(db.Settings.ConnectionString);
        await connection.OpenAsync();
        await using var storage = new Npgsql.NpgsqlCommand(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = to_regclass('snapshot') AND attname = 'snapshot'", connection);

        Assert.Equal('e', await storage.ExecuteScalarAsync());
    }

    [Theory, SqliteStore, PostgresStore]
    public async Task AChunkAbsentFromTheStoreIsNamedWithoutReadingAndItsCheckpointListsAsUnreadable(CheckpointStoreKind kind)
    {
        await using var db = await TestStores.OpenAsync(kind, FourElementChunks);
        var jobId = TestStores.NewJobId("missing-chunk");
        var state = new TrainingState(seed: 9);
        await state.SaveAndCommitAsync(db.Store, jobId, step: 10, worldSize: 2);
        var later = await state.SaveAndCommitAsync(db.Store, jobId, step: 20, worldSize: 2);
        Assert.Empty(await db.Store.MissingChunksAsync(later));

        await db.DeleteRowAsync(CheckpointPersistenceIds.Chunk(jobId, rank: 1, chunkIndex: 2), step: 20);

        var missing = Assert.Single(await db.Store.MissingChunksAsync(later));
        Assert.Contains("rank 1 chunk 2", missing);
        Assert.Contains(db.Store.Location, missing);
        var (committed, unreadable) = await db.Store.ListWithUnreadableAsync(jobId);
        Assert.Equal([10L], committed.Select(m => m.Step));
        Assert.Equal(20, Assert.Single(unreadable).Step);
        Assert.Equal(10, (await db.Store.LatestAsync(jobId))!.Step);
    }

    [Theory, SqliteStore, PostgresStore]
    public async Task TheJobRecordAndTheEventLogOutliveTheProcessThatWroteThem(CheckpointStoreKind kind)
    {
        var settings = TestStores.Settings(kind);
        var jobId = TestStores.NewJobId("job-record");
        await using (var first = await SqlCheckpointStore.OpenAsync(settings))
        {
            Assert.Null(await first.ReadJobRecordAsync(jobId));
            await first.WriteJobRecordAsync(new JobRecord(jobId, 1, "T1", "127.0.0.1:4053", "run_name = \"x\"", DateTimeOffset.UtcNow));
            await first.AppendEventAsync(jobId, """{"event":"job_started"}""");
            await first.AppendEventAsync(jobId, """{"event":"checkpoint"}""");
        }
        await using var second = await SqlCheckpointStore.OpenAsync(settings);
        await second.WriteJobRecordAsync(new JobRecord(jobId, 2, "T2", "127.0.0.1:4054", "run_name = \"x\"", DateTimeOffset.UtcNow));
        await second.AppendEventAsync(jobId, """{"event":"message"}""");

        var record = await second.ReadJobRecordAsync(jobId);
        Assert.Equal((2L, "T2", "127.0.0.1:4054"), (record!.Incarnation, record.Token, record.Host));
        Assert.Equal(["""{"event":"job_started"}""", """{"event":"checkpoint"}""", """{"event":"message"}"""], await second.ReadEventsAsync(jobId));
        Assert.Empty(await second.ReadEventsAsync(TestStores.NewJobId("other")));
    }

    [Fact]
    public async Task ACheckpointAtStepZeroIsListedAndLoads()
    {
        await using var db = await TestStores.OpenAsync(CheckpointStoreKind.Sqlite, FourElementChunks);
        var jobId = TestStores.NewJobId("step-zero");
        var state = new TrainingState(seed: 41);

        await state.SaveAndCommitAsync(db.Store, jobId, step: 0, worldSize: 2);

        var only = Assert.Single(await db.Store.ListAsync(jobId));
        Assert.Equal(0, only.Step);
        state.AssertBitExact(await db.Store.LoadRangeAsync(only, 0, 65));
    }

    [Fact]
    public async Task CommitRejectsAManifestWhoseShardsLeaveAHoleInTheLayout()
    {
        await using var db = await TestStores.OpenAsync(CheckpointStoreKind.Sqlite, FourElementChunks);
        var jobId = TestStores.NewJobId("hole");
        var state = new TrainingState(seed: 40);
        var rank1 = await db.Store.SaveShardAsync(jobId, 1, 1, state.ShardFor(2, 1));
        var rank0 = await db.Store.SaveShardAsync(jobId, 1, 0, state.ShardFor(2, 0));

        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            db.Store.CommitAsync(state.ManifestFor(jobId, 1, 2, [rank0 with { Rank = 0 }, rank1 with { Start = 40 }])));

        Assert.Contains("rank 1's shard starts at 40; expected 33", error.Message);
        Assert.Null(await db.Store.LatestAsync(jobId));
    }
}
