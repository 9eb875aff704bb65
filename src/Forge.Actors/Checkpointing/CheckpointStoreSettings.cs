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

    /// <summary>
    /// Chunk writes in flight at once, across all ranks using this store. SQLite has one writer
    /// per file, so more would only wait on its lock; PostgreSQL takes parallel writers.
    /// </summary>
    public int MaxParallelWrites { get; init; } = 1;

    public int MaxParallelReads { get; init; } = 4;

    /// <summary>Limit for one snapshot-store call (the circuit breaker's call-timeout too).</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromMinutes(10);

    public static CheckpointStoreSettings Sqlite(string databaseFile) => new()
    {
        Kind = CheckpointStoreKind.Sqlite,
        ConnectionString = $"Data Source={Path.GetFullPath(databaseFile)}",
        MaxParallelWrites = 1,
    };

    public static CheckpointStoreSettings PostgreSql(string connectionString) => new()
    {
        Kind = CheckpointStoreKind.PostgreSql,
        ConnectionString = connectionString,
        MaxParallelWrites = 4,
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
        return baseSettings with { ChunkBytes = config.ChunkMiB * MiB, KeepLastN = config.KeepLastN };
    }

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
              }
            }
            """;
        return ConfigurationFactory.ParseString(hocon).WithFallback(SqlPersistence.DefaultConfiguration);
    }

    private static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
