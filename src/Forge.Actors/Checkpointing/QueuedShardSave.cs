namespace Forge.Actors.Checkpointing;

/// <summary>A shard handed to the <see cref="CheckpointWriter"/>; <see cref="Durable"/> completes once every chunk is in the database.</summary>
public sealed record QueuedShardSave(string JobId, long Step, int Rank, Task<ShardReceipt> Durable);
