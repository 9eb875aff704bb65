namespace Forge.Model.Config;

/// <summary>`[checkpoint]`: sharded snapshots through Akka.Persistence.Sql.</summary>
public sealed record CheckpointConfig
{
    /// <summary>Save every N steps (0: only at the end and on a signal).</summary>
    public long Interval { get; init; } = 100;
    /// <summary>Committed checkpoints kept; older ones are pruned after a newer one commits (<=0 keeps all).</summary>
    public int KeepLastN { get; init; } = 3;
    /// <summary>"sqlite" (a file in the run directory) or "postgresql".</summary>
    public string Store { get; init; } = "sqlite";
    /// <summary>PostgreSQL connection string; for SQLite, empty means runs/&lt;run&gt;/checkpoints.db.</summary>
    public string ConnectionString { get; init; } = "";
    public int ChunkMiB { get; init; } = 64;
    /// <summary>Export dtype for consolidated safetensors: "bfloat16" or "float32".</summary>
    public string ExportDtype { get; init; } = "bfloat16";
    /// <summary>Start from this safetensors file's weights (a fresh optimizer).</summary>
    public string LoadPath { get; init; } = "";
}
