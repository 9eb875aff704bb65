using Akka.Actor;
using Akka.Persistence;
using Forge.Model.Optim;
using Npgsql;

namespace Forge.Actors.Checkpointing;

/// <summary>
/// <see cref="ICheckpointStore"/> on an Akka.Persistence.Sql snapshot store (SQLite file or
/// PostgreSQL). Each shard is split into chunk snapshots (<see cref="ShardChunkFormat"/>) whose
/// checksums go into the receipt; the manifest snapshot, written last, is what makes a checkpoint
/// exist. Reads stream each chunk row into place and verify it against the manifest before the caller sees a byte of it (SqlCheckpointStore.Read.cs).
/// A SQLite store spreads chunks over one file per writer (<see cref="CheckpointStoreSettings.Parts"/>),
/// each its own snapshot-store plugin, so that chunk writes run in parallel; each chunk's receipt
/// names its part. The manifest, job record and journal stay in the main file, which names the store.
/// </summary>
/// <remarks>
/// The store runs its own small actor system: the snapshot plugin's config is fixed when a system
/// starts, and keeping checkpoint I/O off the cluster system keeps multi-second blob writes away
/// from its dispatchers and heartbeats.
/// </remarks>
public sealed partial class SqlCheckpointStore : ICheckpointStore, IAsyncDisposable
{
    private readonly ActorSystem _system;
    private readonly PersistenceExtension _persistence;
    private readonly SemaphoreSlim[] _writeSlots;   // per part: SQLite has one writer per file, PostgreSQL takes them all
    private readonly SemaphoreSlim _readSlots;
    private readonly ChunkBuffers _chunkBuffers;
    private readonly TimeSpan _askTimeout;
    private readonly int _chunkSerializerId;   // what the plugin records for a byte[] payload stored as it is

    public CheckpointStoreSettings Settings { get; }

    private SqlCheckpointStore(ActorSystem system, CheckpointStoreSettings settings)
    {
        _system = system;
        Settings = settings;
        _persistence = Persistence.Instance.Apply(system);
        var writersPerPart = settings.Kind == CheckpointStoreKind.Sqlite ? 1 : Math.Max(1, settings.Writers);
        _writeSlots = Enumerable.Range(0, settings.Parts).Select(_ => new SemaphoreSlim(writersPerPart)).ToArray();
        _readSlots = new SemaphoreSlim(Math.Max(1, settings.MaxParallelReads));
        // One chunk more than there are writers is encoded at a time (SaveShardAsync); keep that many per size.
        _chunkBuffers = new ChunkBuffers(Math.Max(1, settings.Writers) + 1);
        // The breaker answers a slow call at CallTimeout; the ask waits a little longer so that the
        // breaker's own failure (with its cause) is what the caller sees.
        _askTimeout = settings.CallTimeout + TimeSpan.FromSeconds(30);
        _chunkSerializerId = system.Serialization.FindSerializerForType(typeof(byte[])).Identifier;
    }

    /// <summary>Opens (and on first use creates) the store; fails fast with the database's own error when it cannot be reached.</summary>
    public static async Task<SqlCheckpointStore> OpenAsync(CheckpointStoreSettings settings, CancellationToken ct = default)
    {
        var config = settings.ToAkkaConfig();
        await CheckReachableAsync(settings, ct);
        var system = ActorSystem.Create("forge-checkpoints", config);
        var store = new SqlCheckpointStore(system, settings);
        try
        {
            // Forces each part's plugin to start and create its table now rather than inside the first save.
            for (var part = 0; part < settings.Parts; part++)
                await store.LoadAsync(CheckpointPersistenceIds.Manifest("forge-open-probe"), long.MaxValue, ct, part);
            if (settings.Kind == CheckpointStoreKind.PostgreSql) await StoreBlobsUncompressedAsync(settings.ConnectionString, ct);
            return store;
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    public async Task<ShardReceipt> SaveShardAsync(string jobId, long step, int rank, OptimizerShard shard, CancellationToken ct = default)
    {
        CheckpointPersistenceIds.Validate(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        if (shard.Master.Length != shard.Length || shard.ExpAvg.Length != shard.Length || shard.ExpAvgSq.Length != shard.Length)
            throw new ArgumentException($"shard of rank {rank} claims {shard.Length} elements but holds master {shard.Master.Length}, exp_avg {shard.ExpAvg.Length}, exp_avg_sq {shard.ExpAvgSq.Length}");

        var perChunk = ShardChunkFormat.ElementsPerChunk(Settings.ChunkBytes);
        var chunkCount = checked((int)((shard.Length + perChunk - 1) / perChunk));
        var chunks = new ChunkInfo[chunkCount];
        // One chunk more than there are writers is encoded at a time: the next chunk is ready when a
        // writer frees up, so no writer waits for encoding. Chunk buffers alive at once are bounded
        // by that degree of parallelism, and reused (ChunkBuffers).
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Settings.Writers) + 1, CancellationToken = ct };
        await Parallel.ForEachAsync(Enumerable.Range(0, chunkCount), parallel, async (index, token) =>
        {
            var first = index * perChunk;
            var count = Math.Min(perChunk, shard.Length - first);
            var part = Settings.PartFor(rank, index);
            var bytes = _chunkBuffers.Rent(checked((int)ShardChunkFormat.ChunkBytesFor(count)));
            ShardChunkFormat.Encode(shard, step, rank, index, first, count, bytes);
            var checksum = ShardChunkFormat.Checksum(bytes);
            await _writeSlots[part].WaitAsync(token);
            try
            {
                await SaveAsync(CheckpointPersistenceIds.Chunk(jobId, rank, index), step, bytes, token, part);
            }
            finally
            {
                _writeSlots[part].Release();
            }
            // Only a save that succeeded is done with the buffer (a timed-out one may still be writing it).
            _chunkBuffers.Return(bytes);
            chunks[index] = new ChunkInfo(index, bytes.Length, checksum, part);
        });
        return new ShardReceipt(rank, shard.Start, shard.Length, chunks);
    }

    public async Task CommitAsync(CheckpointManifest manifest, CancellationToken ct = default)
    {
        ValidateForCommit(manifest);
        var stamped = manifest.CommittedAt == default ? manifest with { CommittedAt = DateTimeOffset.UtcNow } : manifest;
        await SaveAsync(CheckpointPersistenceIds.Manifest(manifest.JobId), manifest.Step, CheckpointManifestJson.Serialize(stamped), ct);
        var committed = await DropAbandonedAsync(manifest, ct);
        await PruneAsync(manifest.JobId, committed, ct);
    }

    public async Task<CheckpointManifest?> LatestAsync(string jobId, CancellationToken ct = default)
    {
        try
        {
            var newest = await LoadManifestAtOrBeforeAsync(jobId, long.MaxValue, ct);
            if (newest is null || (await MissingChunksAsync(newest, ct)).Count == 0) return newest;
            return (await ListWithUnreadableAsync(jobId, ct)).Committed.LastOrDefault();
        }
        catch (CheckpointCorruptException)
        {
            // The newest manifest is damaged: the newest readable one is further down.
            return (await ListWithUnreadableAsync(jobId, ct)).Committed.LastOrDefault();
        }
    }

    public async Task<IReadOnlyList<CheckpointManifest>> ListAsync(string jobId, CancellationToken ct = default) =>
        (await ListWithUnreadableAsync(jobId, ct)).Committed;

    public async Task<CheckpointListing> ListWithUnreadableAsync(string jobId, CancellationToken ct = default)
    {
        // The snapshot protocol loads one snapshot per query (the newest at or below a sequence
        // number), so walk down from the newest; keep_last_n keeps this walk short.
        var newestFirst = new List<CheckpointManifest>();
        var unreadable = new List<CheckpointCorruptException>();
        var bound = long.MaxValue;
        while (bound >= 0)
        {
            try
            {
                if (await LoadManifestAtOrBeforeAsync(jobId, bound, ct) is not { } manifest) break;
                bound = manifest.Step - 1;
                // A manifest whose chunks are elsewhere (or gone) can never be restored: it is no checkpoint.
                var missing = await MissingChunksAsync(manifest, ct);
                if (missing.Count > 0)
                    throw new CheckpointCorruptException(jobId, manifest.Step, null, null,
                        $"{missing.Count} chunk(s) missing: {string.Join("; ", missing.Take(3))}{(missing.Count > 3 ? "; ..." : "")}");
                newestFirst.Add(manifest);
            }
            catch (CheckpointCorruptException e)
            {
                unreadable.Add(e);
                bound = e.Step - 1;
            }
        }
        newestFirst.Reverse();
        unreadable.Reverse();
        return new CheckpointListing(newestFirst, unreadable);
    }

    /// <summary>Deletes every committed checkpoint of the job and the chunk slots they used (benchmarks, tests, retired jobs).</summary>
    public async Task DeleteJobAsync(string jobId, CancellationToken ct = default)
    {
        var committed = await ListAsync(jobId, ct);
        await DeleteUpToAsync(CheckpointPersistenceIds.Manifest(jobId), long.MaxValue, ct);
        await DeleteChunkSlotsAsync(jobId, committed, long.MaxValue, ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _system.Terminate();
        foreach (var slots in _writeSlots) slots.Dispose();
        _readSlots.Dispose();
    }

    private async Task<CheckpointManifest?> LoadManifestAtOrBeforeAsync(string jobId, long maxStep, CancellationToken ct)
    {
        var snapshot = await LoadAsync(CheckpointPersistenceIds.Manifest(jobId), maxStep, ct);
        if (snapshot is null) return null;
        var step = snapshot.Metadata.SequenceNr;
        if (snapshot.Snapshot is not byte[] json)
            throw new CheckpointCorruptException(jobId, step, null, null, $"the manifest snapshot holds a {snapshot.Snapshot?.GetType().Name ?? "null"}, not JSON bytes");
        var manifest = CheckpointManifestJson.Deserialize(json, jobId, step);
        if (manifest.JobId != jobId || manifest.Step != step)
            throw new CheckpointCorruptException(jobId, step, null, null, $"the manifest names job '{manifest.JobId}' step {manifest.Step}");
        return manifest;
    }

    private static void ValidateForCommit(CheckpointManifest m)
    {
        CheckpointPersistenceIds.Validate(m.JobId);
        var where = $"manifest of job '{m.JobId}' step {m.Step}";
        if (m.Step < 0) throw new ArgumentException($"{where}: step must not be negative");
        if (m.Shards.Count != m.WorldSize)
            throw new ArgumentException($"{where}: world size {m.WorldSize} but {m.Shards.Count} shard receipts");
        var ranks = m.Shards.Select(s => s.Rank).OrderBy(r => r).ToList();
        if (!ranks.SequenceEqual(Enumerable.Range(0, m.WorldSize)))
            throw new ArgumentException($"{where}: shard ranks [{string.Join(", ", ranks)}] are not 0..{m.WorldSize - 1}");
        foreach (var shard in m.Shards)
        {
            var chunked = shard.Chunks.Sum(ShardChunkFormat.ElementsIn);
            if (chunked != shard.Length)
                throw new ArgumentException($"{where}: rank {shard.Rank}'s chunks hold {chunked} elements, its shard {shard.Length}");
        }
        var cursor = 0L;
        foreach (var shard in m.Shards.OrderBy(s => s.Start))
        {
            if (shard.Start != cursor)
                throw new ArgumentException($"{where}: rank {shard.Rank}'s shard starts at {shard.Start}; expected {cursor} (shards must tile the layout without gaps or overlaps)");
            cursor = shard.Start + shard.Length;
        }
        if (cursor < m.Layout.Numel)
            throw new ArgumentException($"{where}: shards end at {cursor}, short of the layout's {m.Layout.Numel} elements");
    }

    /// <summary>
    /// A commit at step S means the job's history continues from S: manifests of later steps
    /// belong to a timeline that was abandoned (the run resumed from an earlier checkpoint, e.g.
    /// past a corrupt one) and must neither shadow `latest` nor count towards keep_last_n. Only
    /// their manifests go: their chunk rows may already be shared with the new timeline's
    /// in-flight save of the same step, and without a manifest they are invisible anyway.
    /// </summary>
    /// <returns>The job's committed manifests after the cleanup, oldest first.</returns>
    private async Task<IReadOnlyList<CheckpointManifest>> DropAbandonedAsync(CheckpointManifest commit, CancellationToken ct)
    {
        var committed = await ListAsync(commit.JobId, ct);
        foreach (var abandoned in committed.Where(m => m.Step > commit.Step))
            await DeleteOneAsync(CheckpointPersistenceIds.Manifest(commit.JobId), abandoned.Step, ct);
        return committed.Where(m => m.Step <= commit.Step).ToList();
    }

    /// <summary>
    /// Deletes every checkpoint older than the newest <c>KeepLastN</c> committed ones. Manifests go
    /// first, so a crash half-way never leaves a manifest whose chunks are gone. Deleting "up to
    /// step S" per chunk slot also removes chunks of older checkpoints that never committed.
    /// </summary>
    private async Task PruneAsync(string jobId, IReadOnlyList<CheckpointManifest> committed, CancellationToken ct)
    {
        if (Settings.KeepLastN <= 0) return;
        if (committed.Count <= Settings.KeepLastN) return;
        var pruned = committed.Take(committed.Count - Settings.KeepLastN).ToList();
        var upTo = pruned[^1].Step;
        await DeleteUpToAsync(CheckpointPersistenceIds.Manifest(jobId), upTo, ct);
        await DeleteChunkSlotsAsync(jobId, pruned, upTo, ct);
    }

    /// <summary>
    /// Deletes, up to <paramref name="upTo"/>, every chunk slot (rank, index) the manifests used, in
    /// the part each was written to and in the part this store writes it to now (which holds any
    /// never-committed chunk of the slot). Parts delete in parallel; within a part one at a time.
    /// </summary>
    private async Task DeleteChunkSlotsAsync(string jobId, IReadOnlyList<CheckpointManifest> manifests, long upTo, CancellationToken ct)
    {
        var slots = manifests.SelectMany(m => m.Shards.SelectMany(s => s.Chunks.SelectMany(c =>
                new[] { (s.Rank, c.Index, c.Part), (s.Rank, c.Index, Part: Settings.PartFor(s.Rank, c.Index)) })))
            .Distinct()
            .Where(slot => slot.Part < Settings.Parts || Settings.Kind != CheckpointStoreKind.Sqlite || File.Exists(Settings.SqlitePartFile(slot.Part)));
        await Task.WhenAll(slots.GroupBy(slot => slot.Part).Select(async part =>
        {
            foreach (var (rank, index, _) in part)
                await DeleteUpToAsync(CheckpointPersistenceIds.Chunk(jobId, rank, index), upTo, ct, part.Key);
        }));
    }

    /// <summary>The snapshot-store plugin of one of the store's parts (0: the main file, or PostgreSQL).</summary>
    private IActorRef Snapshots(int part) => _persistence.SnapshotStoreFor(CheckpointStoreSettings.SnapshotPluginId(part));

    private async Task SaveAsync(string persistenceId, long step, byte[] payload, CancellationToken ct, int part = 0)
    {
        var metadata = new SnapshotMetadata(persistenceId, step, DateTime.UtcNow);
        switch (await Snapshots(part).Ask<object>(new SaveSnapshot(metadata, payload), _askTimeout, ct))
        {
            case SaveSnapshotSuccess:
                return;
            case SaveSnapshotFailure failure:
                throw new IOException($"saving snapshot '{persistenceId}' at step {step} ({payload.Length} bytes) to the {Settings.Kind} checkpoint store failed: {failure.Cause.Message}", failure.Cause);
            case var other:
                throw new InvalidOperationException($"unexpected snapshot-store reply {other.GetType().Name}");
        }
    }

    private async Task<SelectedSnapshot?> LoadAsync(string persistenceId, long maxStep, CancellationToken ct, int part = 0)
    {
        var criteria = new SnapshotSelectionCriteria(maxStep, DateTime.MaxValue);
        return await Snapshots(part).Ask<object>(new LoadSnapshot(persistenceId, criteria, long.MaxValue), _askTimeout, ct) switch
        {
            LoadSnapshotResult result => result.Snapshot,
            LoadSnapshotFailed failed => throw new IOException($"loading snapshot '{persistenceId}' from the {Settings.Kind} checkpoint store failed: {failed.Cause.Message}", failed.Cause),
            var other => throw new InvalidOperationException($"unexpected snapshot-store reply {other.GetType().Name}"),
        };
    }

    private async Task DeleteUpToAsync(string persistenceId, long maxStep, CancellationToken ct, int part = 0)
    {
        var criteria = new SnapshotSelectionCriteria(maxStep, DateTime.MaxValue);
        switch (await Snapshots(part).Ask<object>(new DeleteSnapshots(persistenceId, criteria), _askTimeout, ct))
        {
            case DeleteSnapshotsSuccess:
                return;
            case DeleteSnapshotsFailure failure:
                throw new IOException($"pruning snapshots '{persistenceId}' up to step {maxStep} failed: {failure.Cause.Message}", failure.Cause);
            case var other:
                throw new InvalidOperationException($"unexpected snapshot-store reply {other.GetType().Name}");
        }
    }

    private async Task DeleteOneAsync(string persistenceId, long step, CancellationToken ct)
    {
        // DateTime.MinValue: the plugin then matches on (persistence id, sequence number) alone.
        var metadata = new SnapshotMetadata(persistenceId, step, DateTime.MinValue);
        switch (await Snapshots(0).Ask<object>(new DeleteSnapshot(metadata), _askTimeout, ct))
        {
            case DeleteSnapshotSuccess:
                return;
            case DeleteSnapshotFailure failure:
                throw new IOException($"deleting snapshot '{persistenceId}' at step {step} failed: {failure.Cause.Message}", failure.Cause);
            case var other:
                throw new InvalidOperationException($"unexpected snapshot-store reply {other.GetType().Name}");
        }
    }

    /// <summary>SQLite's largest page size; a 16 MiB chunk is then 256 overflow pages instead of 4,096.</summary>
    internal const int SqlitePageSize = 65536;

    /// <summary>
    /// Creates a new SQLite file with 64 KiB pages before the plugin creates its table (the page size is
    /// fixed once the first table exists). Measured on a 2-core VM, 256 MiB checkpoints: write 199-224 MiB/s
    /// against 138-182 with the default 4 KiB pages, read 358-360 against 283-321. An existing file keeps
    /// its page size. The rollback journal stays (WAL would write every chunk twice), with full sync.
    /// </summary>
    private static async Task CreateWithLargePagesAsync(string connectionString, string file, CancellationToken ct)
    {
        if (file == ":memory:" || (File.Exists(file) && new FileInfo(file).Length > 0)) return;
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        // VACUUM applies the page size to the empty database file immediately.
        command.CommandText = $"PRAGMA page_size = {SqlitePageSize}; VACUUM;";
        await command.ExecuteNonQueryAsync(ct);
        Microsoft.Data.Sqlite.SqliteConnection.ClearPool(connection);
    }

    private static async Task CheckReachableAsync(CheckpointStoreSettings settings, CancellationToken ct)
    {
        switch (settings.Kind)
        {
            case CheckpointStoreKind.Sqlite:
                var file = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(settings.ConnectionString).DataSource;
                var directory = Path.GetDirectoryName(Path.GetFullPath(file));
                if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
                await CreateWithLargePagesAsync(settings.ConnectionString, file, ct);
                for (var part = 1; part < settings.Parts; part++)
                    await CreateWithLargePagesAsync(settings.PartConnectionString(part), settings.SqlitePartFile(part), ct);
                break;
            case CheckpointStoreKind.PostgreSql:
                // The plugin would only log a failed table creation and retry forever; opening a
                // connection here turns a wrong host or password into one clear error.
                try
                {
                    await using var connection = new NpgsqlConnection(settings.ConnectionString);
                    await connection.OpenAsync(ct);
                }
                catch (Exception e) when (e is NpgsqlException or ArgumentException or InvalidOperationException)
                {
                    throw new IOException($"cannot reach the PostgreSQL checkpoint store ({Describe(settings.ConnectionString)}): {e.Message}", e);
                }
                break;
        }
    }

    /// <summary>
    /// PostgreSQL tries to pglz-compress every large bytea before storing it out of line. Float
    /// tensors repeat exponent bytes, so the attempt runs over the whole chunk and is then thrown
    /// away for too small a gain (on a 2-core machine: 25 MiB/s written with it, 42-52 without). EXTERNAL keeps
    /// values out of line without the attempt. An optimisation only: without the right to alter
    /// the plugin's table (another owner), the store works as it is.
    /// </summary>
    private static async Task StoreBlobsUncompressedAsync(string connectionString, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var check = new NpgsqlCommand(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = to_regclass('snapshot') AND attname = 'snapshot'", connection);
        if (await check.ExecuteScalarAsync(ct) is not char storage || storage == 'e') return;
        try
        {
            await using var alter = new NpgsqlCommand("ALTER TABLE snapshot ALTER COLUMN snapshot SET STORAGE EXTERNAL", connection);
            await alter.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
        }
    }

    // Names the server without echoing a password into logs.
    private static string Describe(string connectionString)
    {
        try
        {
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            return $"host {b.Host}, port {b.Port}, database {b.Database}, user {b.Username}";
        }
        catch (ArgumentException)
        {
            return "the connection string does not parse";
        }
    }
}
