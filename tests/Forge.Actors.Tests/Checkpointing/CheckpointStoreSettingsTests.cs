using Forge.Actors.Checkpointing;
using Forge.Model.Config;

namespace Forge.Actors.Tests.Checkpointing;

public sealed class CheckpointStoreSettingsTests
{
    [Fact]
    public void TheDefaultStoreIsASqliteFileInTheRunDirectoryWith16MiBChunksAndFourWriterFiles()
    {
        var settings = CheckpointStoreSettings.FromConfig(new CheckpointConfig(), "/tmp/runs/demo");

        Assert.Equal(CheckpointStoreKind.Sqlite, settings.Kind);
        Assert.Equal("Data Source=/tmp/runs/demo/checkpoints.db", settings.ConnectionString);
        Assert.Equal(16 * CheckpointStoreSettings.MiB, settings.ChunkBytes);
        Assert.Equal(4, settings.Parts);
        Assert.Equal("/tmp/runs/demo/checkpoints.db-part3", settings.SqlitePartFile(3));
        Assert.Equal(3, settings.KeepLastN);
        var plugin = settings.ToAkkaConfig().GetConfig("akka.persistence.snapshot-store.sql");
        Assert.Equal(TimeSpan.FromMinutes(10), plugin.GetTimeSpan("circuit-breaker.call-timeout"));
        Assert.Equal("SQLite.MS", plugin.GetString("provider-name"));
        Assert.Equal("Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql", plugin.GetString("class"));
    }

    [Theory]
    [InlineData("mysql", "", 64, "checkpoint.store = \"mysql\"")]
    [InlineData("postgresql", "", 64, "checkpoint.connection_string is empty")]
    [InlineData("sqlite", "", 0, "checkpoint.chunk_mib = 0")]
    [InlineData("sqlite", "", 2048, "checkpoint.chunk_mib = 2048")]
    public void ABadCheckpointSectionIsRejectedNamingTheKey(string store, string connection, int chunkMiB, string expected)
    {
        var config = new CheckpointConfig { Store = store, ConnectionString = connection, ChunkMiB = chunkMiB };

        var error = Assert.Throws<ArgumentException>(() => CheckpointStoreSettings.FromConfig(config, "runs/x"));

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void AJobIdThatCouldAliasAnotherJobsPersistenceIdsIsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => CheckpointPersistenceIds.Chunk("a|rank-1", 0, 0));

        Assert.Contains("'a|rank-1'", error.Message);
        Assert.NotEqual(CheckpointPersistenceIds.Chunk("job", 0, 0), CheckpointPersistenceIds.Chunk("job2", 0, 0));
    }
}
