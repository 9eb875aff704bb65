using System.Collections.Concurrent;
using System.Data.Common;
using Akka.Actor;
using Akka.Persistence;
using Npgsql;

namespace Forge.Actors.Checkpointing;

// The job-level half of the store: its location, the chunk presence check, the job record and
// the event log. The checkpoint half (shards, manifests, pruning) is SqlCheckpointStore.cs.
public sealed partial class SqlCheckpointStore
{
    private readonly ConcurrentDictionary<string, IActorRef> _eventLogs = new();

    public string Location => Settings.Kind switch
    {
        CheckpointStoreKind.Sqlite => $"SQLite file {Path.GetFullPath(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(Settings.ConnectionString).DataSource)}",
        _ => PostgreSqlLocation(Settings.ConnectionString),
    };

    private static string PostgreSqlLocation(string connectionString)
    {
        try
        {
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            return $"PostgreSQL {b.Host}:{b.Port}/{b.Database}";
        }
        catch (ArgumentException)
        {
            return "PostgreSQL (the connection string does not parse)";
        }
    }

    public async Task<IReadOnlyList<string>> MissingChunksAsync(CheckpointManifest manifest, CancellationToken ct = default)
    {
        // The snapshot protocol can only load a chunk whole (up to 512 MiB each): ask the plugin's
        // table of each part the manifest names for the sizes instead, which reads no blob.
        var missing = new List<string>();
        foreach (var part in manifest.Shards.SelectMany(s => s.Chunks.Select(c => c.Part)).Distinct().Order())
        {
            var where = PartLocation(part);
            var stored = await StoredChunkSizesAsync(manifest, part, ct);
            foreach (var shard in manifest.Shards)
            foreach (var chunk in shard.Chunks.Where(c => c.Part == part))
            {
                var id = CheckpointPersistenceIds.Chunk(manifest.JobId, shard.Rank, chunk.Index);
                if (stored is null || !stored.TryGetValue(id, out var bytes))
                    missing.Add($"rank {shard.Rank} chunk {chunk.Index}: not in {where}{(stored is null ? " (no such file)" : "")}");
                else if (bytes != chunk.Bytes)
                    missing.Add($"rank {shard.Rank} chunk {chunk.Index}: {bytes} bytes in {where}; the receipt says {chunk.Bytes}");
            }
        }
        return missing;
    }

    /// <summary>The chunk sizes of the manifest's step held by one part, by persistence id; null when the part's SQLite file does not exist.</summary>
    private async Task<Dictionary<string, long>?> StoredChunkSizesAsync(CheckpointManifest manifest, int part, CancellationToken ct)
    {
        // Opening a missing SQLite file would create it: a part that is not there holds nothing.
        if (Settings.Kind == CheckpointStoreKind.Sqlite && !File.Exists(Settings.SqlitePartFile(part))) return null;
        var prefix = CheckpointPersistenceIds.ChunkPrefix(manifest.JobId);
        var stored = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var connection = OpenConnection(part);
        await connection.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT persistence_id, length(snapshot) FROM snapshot " +
                              "WHERE sequence_number = @step AND substr(persistence_id, 1, @length) = @prefix";
        AddParameter(command, "step", manifest.Step);
        AddParameter(command, "length", prefix.Length);
        AddParameter(command, "prefix", prefix);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            stored[reader.GetString(0)] = reader.IsDBNull(1) ? -1 : Convert.ToInt64(reader.GetValue(1));
        return stored;
    }

    /// <summary>Where one part of the store lives: its SQLite file, or the PostgreSQL database.</summary>
    private string PartLocation(int part) => Settings.Kind == CheckpointStoreKind.Sqlite
        ? $"SQLite file {Settings.SqlitePartFile(part)}"
        : Location;

    public Task WriteJobRecordAsync(JobRecord record, CancellationToken ct = default) =>
        SaveAsync(CheckpointPersistenceIds.JobRecord(record.JobId), record.Incarnation, record.ToJson(), ct);

    public async Task<JobRecord?> ReadJobRecordAsync(string jobId, CancellationToken ct = default)
    {
        var snapshot = await LoadAsync(CheckpointPersistenceIds.JobRecord(jobId), long.MaxValue, ct);
        return snapshot?.Snapshot is byte[] json ? JobRecord.FromJson(json, jobId) : null;
    }

    public async Task AppendEventAsync(string jobId, string json, CancellationToken ct = default) =>
        await EventLog(jobId).Ask<JobEventLog.Appended>(new JobEventLog.Append(System.Text.Encoding.UTF8.GetBytes(json)), _askTimeout, ct);

    public async Task<IReadOnlyList<string>> ReadEventsAsync(string jobId, CancellationToken ct = default)
    {
        var events = await EventLog(jobId).Ask<byte[][]>(JobEventLog.ReadAll.Instance, _askTimeout, ct);
        return events.Select(e => System.Text.Encoding.UTF8.GetString(e)).ToArray();
    }

    private IActorRef EventLog(string jobId) => _eventLogs.GetOrAdd(jobId, id =>
        _system.ActorOf(Props.Create(() => new JobEventLog(CheckpointPersistenceIds.Events(id))), $"events-{_eventLogs.Count}-{Guid.NewGuid():N}"));

    private DbConnection OpenConnection(int part = 0) => Settings.Kind switch
    {
        CheckpointStoreKind.Sqlite => new Microsoft.Data.Sqlite.SqliteConnection(Settings.PartConnectionString(part)),
        _ => new NpgsqlConnection(Settings.ConnectionString),
    };

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    /// <summary>
    /// The job's event log: one persistent actor per job, on the store's own actor system. Events are
    /// UTF-8 JSON bytes (Akka's byte-array serializer keeps them as they are). Replaying the log on
    /// start is what gives a new writer the right sequence number after a hand-over.
    /// </summary>
    private sealed class JobEventLog : ReceivePersistentActor
    {
        private readonly List<byte[]> _events = [];

        public JobEventLog(string persistenceId)
        {
            PersistenceId = persistenceId;
            Recover<byte[]>(_events.Add);
            Command<Append>(append => Persist(append.Json, json =>
            {
                _events.Add(json);
                Sender.Tell(Appended.Instance);
            }));
            Command<ReadAll>(_ => Sender.Tell(_events.ToArray()));
        }

        public override string PersistenceId { get; }

        public sealed record Append(byte[] Json);

        public sealed record Appended
        {
            public static Appended Instance { get; } = new();
        }

        public sealed record ReadAll
        {
            public static ReadAll Instance { get; } = new();
        }
    }
}
