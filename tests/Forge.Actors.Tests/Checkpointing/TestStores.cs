using System.Reflection;
using Forge.Actors.Checkpointing;
using Microsoft.Data.Sqlite;
using Npgsql;
using Xunit.Sdk;

namespace Forge.Actors.Tests.Checkpointing;

/// <summary>
/// Real databases for the store tests: a fresh SQLite file per test, and the loopback PostgreSQL
/// server of scripts/postgres.sh (FORGE_PG_CONNECTION), shared by tests that keep apart through
/// unique job ids, which is itself the isolation the store promises.
/// </summary>
public static class TestStores
{
    public static string? PostgresConnection => Environment.GetEnvironmentVariable("FORGE_PG_CONNECTION") is { Length: > 0 } c ? c : null;

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public const string MissingPostgres =
        "FORGE_PG_CONNECTION is not set: the PostgreSQL checkpoint-store tests need a server. Run scripts/postgres.sh and " +
        "export FORGE_PG_CONNECTION=\"$(cat .forge-pg/connection)\" (scripts/test.sh does both).";

    public static string NewJobId(string what) => $"test-{what}-{Guid.NewGuid():N}";

    public static async Task<TestStore> OpenAsync(CheckpointStoreKind kind, long chunkBytes = 4096, int keepLastN = 0)
    {
        var settings = Settings(kind) with { ChunkBytes = chunkBytes, KeepLastN = keepLastN };
        return new TestStore(await SqlCheckpointStore.OpenAsync(settings), settings);
    }

    public static CheckpointStoreSettings Settings(CheckpointStoreKind kind) => kind switch
    {
        CheckpointStoreKind.Sqlite => CheckpointStoreSettings.Sqlite(Path.Combine(Path.GetTempPath(), "forge-ckpt-tests", $"{Guid.NewGuid():N}.db")),
        // Reached in CI without a server (the PostgreSQL rows are only skipped locally): fail loudly.
        CheckpointStoreKind.PostgreSql => CheckpointStoreSettings.PostgreSql(PostgresConnection ?? throw new InvalidOperationException(MissingPostgres)),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}

/// <summary>A store opened for one test, with plain-SQL access to its snapshot table for tampering.</summary>
public sealed class TestStore(SqlCheckpointStore store, CheckpointStoreSettings settings) : IAsyncDisposable
{
    public SqlCheckpointStore Store { get; } = store;
    public CheckpointStoreSettings Settings { get; } = settings;

    /// <summary>Inverts the bits of one byte of a stored snapshot (the plugin's default table: snapshot(persistence_id, sequence_number, snapshot)).</summary>
    public async Task FlipByteAsync(string persistenceId, long step, int offset)
    {
        const string select = "SELECT snapshot FROM snapshot WHERE persistence_id = @id AND sequence_number = @step";
        const string update = "UPDATE snapshot SET snapshot = @bytes WHERE persistence_id = @id AND sequence_number = @step";
        await using var connection = OpenConnection();
        await connection.OpenAsync();
        byte[] bytes;
        await using (var read = connection.CreateCommand())
        {
            read.CommandText = select;
            AddParameters(read, ("id", persistenceId), ("step", step));
            bytes = (byte[])(await read.ExecuteScalarAsync() ?? throw new InvalidOperationException($"no snapshot row '{persistenceId}' at {step}"));
        }
        bytes[offset] ^= 0xFF;
        await using var write = connection.CreateCommand();
        write.CommandText = update;
        AddParameters(write, ("id", persistenceId), ("step", step), ("bytes", bytes));
        Assert.Equal(1, await write.ExecuteNonQueryAsync());
    }

    /// <summary>Deletes one stored snapshot row (a chunk whose write never reached this store).</summary>
    public async Task DeleteRowAsync(string persistenceId, long step)
    {
        await using var connection = OpenConnection();
        await connection.OpenAsync();
        await using var delete = connection.CreateCommand();
        delete.CommandText = "DELETE FROM snapshot WHERE persistence_id = @id AND sequence_number = @step";
        AddParameters(delete, ("id", persistenceId), ("step", step));
        Assert.Equal(1, await delete.ExecuteNonQueryAsync());
    }

    /// <summary>How many snapshot rows the job has (chunks and manifests, any step) in all the store's parts; all jobs' rows when <paramref name="jobId"/> is null.</summary>
    public async Task<long> RowCountAsync(string? jobId, long? step = null)
    {
        var rows = 0L;
        for (var part = 0; part < Settings.Parts; part++)
        {
            await using var connection = OpenConnection(part);
            await connection.OpenAsync();
            await using var count = connection.CreateCommand();
            count.CommandText = "SELECT COUNT(*) FROM snapshot WHERE persistence_id LIKE @prefix" + (step is null ? "" : " AND sequence_number = @step");
            AddParameters(count, ("prefix", jobId is null ? "%" : $"forge-ckpt|{jobId}|%"));
            if (step is { } s) AddParameters(count, ("step", s));
            rows += Convert.ToInt64(await count.ExecuteScalarAsync());
        }
        return rows;
    }

    private System.Data.Common.DbConnection OpenConnection(int part = 0) => Settings.Kind == CheckpointStoreKind.Sqlite
        ? new SqliteConnection(Settings.PartConnectionString(part))
        : new NpgsqlConnection(Settings.ConnectionString);

    private static void AddParameters(System.Data.Common.DbCommand command, params (string Name, object Value)[] values)
    {
        foreach (var (name, value) in values)
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = value;
            command.Parameters.Add(p);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        if (Settings.Kind == CheckpointStoreKind.Sqlite)
        {
            SqliteConnection.ClearAllPools();
            for (var part = 0; part < Settings.Parts; part++)
            {
                try { File.Delete(Settings.SqlitePartFile(part)); } catch (IOException) { /* another pooled handle; the temp dir is disposable */ }
            }
        }
    }
}

/// <summary>Theory row: run against a SQLite file (always available).</summary>
public sealed class SqliteStoreAttribute : DataAttribute
{
    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [[CheckpointStoreKind.Sqlite]];
}

/// <summary>
/// Theory row: run against PostgreSQL. Without FORGE_PG_CONNECTION the row is skipped on a
/// developer's machine (SQLite still covers the store logic) but runs and fails in CI (CI=true),
/// where scripts/test.sh starts a server: a silently skipped database there would hide a regression.
/// </summary>
public sealed class PostgresStoreAttribute : DataAttribute
{
    public PostgresStoreAttribute()
    {
        if (TestStores.PostgresConnection is null && !TestStores.IsCi) Skip = TestStores.MissingPostgres;
    }

    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [[CheckpointStoreKind.PostgreSql]];
}
