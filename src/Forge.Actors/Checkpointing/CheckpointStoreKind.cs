namespace Forge.Actors.Checkpointing;

/// <summary>Which database holds the checkpoint snapshots.</summary>
public enum CheckpointStoreKind
{
    /// <summary>A SQLite file (Microsoft.Data.Sqlite), the embedded default.</summary>
    Sqlite,
    /// <summary>A PostgreSQL server (Npgsql), for clusters whose ranks write in parallel.</summary>
    PostgreSql,
}
