using Akka.Configuration;
using Akka.Persistence.Sql;
using Forge.Model.Config;

namespace Forge.Actors.Checkpointing;

/// <summary>
/// Where and how checkpoints are stored. Built from the `[checkpoint]` section by
/// <see cref="FromConfig"/>; tests and the benchmark construct it directly (e.g. tiny chunks).
/// </summary>
public sealed record CheckpointStoreSettings
{
    public const long MiB = 1024 * 1024;

    // SQLite's default blob limit and PostgreSQL's bytea limit are both about 1 GiB; a chunk must
    // stay well below that and below .NET's 2 GiB array limit.
    public const int MaxChunkMiB = 512;

    // Defaults of the settings `[checkpoint]` also sets come from its record, the one place they are written.
    private static readonly CheckpointConfig Defaults = new();

    public required CheckpointStoreKind Kind { get; init; }
    public required string ConnectionString { get; init; }

    /// <summary>Upper bound of one chunk snapshot in bytes, header included.</summary>
    public long ChunkBytes { get; init; } = Defaults.ChunkMiB * MiB;

    /// <summary>Committed checkpoints kept; older ones are pruned after a newer commit (&lt;= 0 keeps all).</summary>
    public int KeepLastN { get; init; } = Defaults.KeepLastN;

    /// <summary>The most chunk writers (for SQLite, files) a store may have.</summary>
    public const int MaxWriters = 32;

    /// <summary>
    /// Chunk writes in flight at once, across all ranks using this store. SQLite has one writer per
    /// file, so a SQLite store has this many files (<see cref="Parts"/>): the main file and
    /// <c>&lt;main&gt;-part1</c>... beside it; PostgreSQL takes parallel writers in one database.
    /// </summary>
    public int Writers { get; init; } = 1;

    /// <summary>Chunk reads in flight at once, each on a reader thread of its own (SQLite readers do not block each other, in one file or several).</summary>
    public int MaxParallelReads { get; init; } = DefaultParallelReads;

    public const int DefaultParallelReads = 8;

    /// <summary>Limit for one snapshot-store call (the circuit breaker's call-timeout too).</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromMinutes(10);

    public static CheckpointStoreSettings Sqlite(string databaseFile) => new()
    {
        Kind = CheckpointStoreKind.Sqlite,
        ConnectionString = $"Data Source={Path.GetFullPath(databaseFile)}",
        Writers = 1,
    };

    public static CheckpointStoreSettings PostgreSql(string connectionString) => new()
    {
        Kind = CheckpointStoreKind.PostgreSql,
        ConnectionString = connectionString,
        Writers = 4,
    };

    /// <summary>The store the job config asks for; SQLite defaults to &lt;runDirectory&gt;/checkpoints.db.</summary>
    public static CheckpointStoreSettings FromConfig(CheckpointConfig config, string runDirectory)
    {
        if (config.ChunkMiB is < 1 or > MaxChunkMiB)
            throw new ArgumentException($"checkpoint.chunk_mib = {config.ChunkMiB}: expected 1..{MaxChunkMiB} (chunks must stay well below the 1 GiB blob limits of SQLite and PostgreSQL)");
        var baseSettings = config.Store switch
        {
            CheckpointConfig.Sqlite => Sqlite(string.IsNullOrWhiteSpace(config.ConnectionString)
                ? Path.Combine(runDirectory, "checkpoints.db")
                : config.ConnectionString),
            CheckpointConfig.PostgreSql => string.IsNullOrWhiteSpace(config.ConnectionString)
                ? throw new ArgumentException("checkpoint.connection_string is empty: checkpoint.store = \"postgresql\" needs a connection string such as \"Host=db;Port=5432;Username=forge;Database=forge\"")
                : PostgreSql(config.ConnectionString),
            _ => throw new ArgumentException($"checkpoint.store = \"{config.Store}\": expected one of {string.Join(", ", CheckpointConfig.Stores.Select(s => $"\"{s}\""))}"),
        };
        if (config.Writers is < 1 or > MaxWriters)
            throw new ArgumentException($"checkpoint.writers = {config.Writers}: expected 1..{MaxWriters}");
        return baseSettings with { ChunkBytes = config.ChunkMiB * MiB, KeepLastN = config.KeepLastN, Writers = config.Writers };
    }

    /// <summary>
    /// The store's databases: a SQLite store is one file per writer, so that chunk writes run in
    /// parallel; part 0, the main file, also holds the manifests, the job record and the journal,
    /// and names the store. PostgreSQL is one database whatever the writer count.
    /// </summary>
    public int Parts => Kind == CheckpointStoreKind.Sqlite ? Math.Clamp(Writers, 1, MaxWriters) : 1;

    /// <summary>The part a chunk is written to: a shard's consecutive chunks go to consecutive parts, so all writers stay busy.</summary>
    public int PartFor(int rank, int chunkIndex) => (rank + chunkIndex) % Parts;

    /// <summary>The SQLite file of a part: the main file, or <c>&lt;main&gt;-part&lt;k&gt;</c> beside it.</summary>
    public string SqlitePartFile(int part)
    {
        var main = Path.GetFullPath(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(ConnectionString).DataSource);
        return part == 0 ? main : $"{main}-part{part}";
    }

    /// <summary>The connection string of a part (PostgreSQL: the one database).</summary>
    public string PartConnectionString(int part)
    {
        if (Kind != CheckpointStoreKind.Sqlite || part == 0) return ConnectionString;
        return new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(ConnectionString) { DataSource = SqlitePartFile(part) }.ToString();
    }

    /// <summary>The snapshot-store plugin of a part: the plugin's own path for part 0, one section per further part.</summary>
    public static string SnapshotPluginId(int part) =>
        part == 0 ? "akka.persistence.snapshot-store.sql" : $"akka.persistence.snapshot-store.forge-part-{part}";

    /// <summary>
    /// The HOCON of the dedicated actor system that hosts the snapshot store. The plugin's own
    /// defaults come from <see cref="SqlPersistence.DefaultConfiguration"/>.
    /// </summary>
    public Config ToAkkaConfig()
    {
        if (ChunkBytes < ShardChunkFormat.HeaderBytes + ShardChunkFormat.BytesPerElement)
            throw new ArgumentException($"checkpoint chunk size {ChunkBytes} bytes is too small: a chunk needs at least {ShardChunkFormat.HeaderBytes + ShardChunkFormat.BytesPerElement} bytes");
        if (ChunkBytes > MaxChunkMiB * MiB)
            throw new ArgumentException($"checkpoint chunk size {ChunkBytes} bytes exceeds {MaxChunkMiB} MiB");
        var provider = Kind switch
        {
            CheckpointStoreKind.Sqlite => "SQLite.MS",
            CheckpointStoreKind.PostgreSql => "PostgreSQL.15",
            _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "unknown checkpoint store kind"),
        };
        var timeout = $"{(long)CallTimeout.TotalSeconds}s";
        // Every possible part has a plugin section (a plugin starts only when first used), so a
        // checkpoint written with more writers than this store has still reads.
        var partPlugins = string.Concat(Enumerable.Range(1, Kind == CheckpointStoreKind.Sqlite ? MaxWriters - 1 : 0).Select(part => $$"""

              persistence.snapshot-store.forge-part-{{part}} {
                class = "Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql"
                plugin-dispatcher = "akka.persistence.dispatchers.default-plugin-dispatcher"
                provider-name = "{{provider}}"
                connection-string = {{Quote(PartConnectionString(part))}}
                auto-initialize = on
                circuit-breaker {
                  call-timeout = {{timeout}}
                  max-failures = 10
                  reset-timeout = 5s
                }
              }
            """));
        var hocon = $$"""
            akka {
              loglevel = WARNING
              stdout-loglevel = WARNING
              # The job's event log (forge status reads the whole history from the store).
              persistence.journal {
                plugin = "akka.persistence.journal.sql"
                sql {
                  provider-name = "{{provider}}"
                  connection-string = {{Quote(ConnectionString)}}
                  auto-initialize = on
                }
              }
              persistence.snapshot-store {
                plugin = "akka.persistence.snapshot-store.sql"
                sql {
                  provider-name = "{{provider}}"
                  connection-string = {{Quote(ConnectionString)}}
                  auto-initialize = on
                  # Large chunks take seconds to write; the 20 s default would trip the breaker
                  # and fail a healthy save. A failing database still surfaces as an error.
                  circuit-breaker {
                    call-timeout = {{timeout}}
                    max-failures = 10
                    reset-timeout = 5s
                  }
                }
              }{{partPlugins}}
            }
            """;
        return ConfigurationFactory.ParseString(hocon).WithFallback(SqlPersistence.DefaultConfiguration);
    }

    private static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
