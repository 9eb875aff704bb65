using Forge.Actors.Checkpointing;
using Forge.Model.Optim;
using Forge.Model.Training;

// Usage: Forge.CheckpointCrashWriter <sqlite file> <job id> <step> <MiB of rank 1's shard> <chunk KiB> <writers>
// Saves a small rank-0 shard, then a large rank-1 shard in many small chunks, then commits,
// printing a line after each stage, so a test can kill it while rank 1 is being written.
if (args.Length != 6)
{
    Console.Error.WriteLine("usage: Forge.CheckpointCrashWriter <sqlite file> <job id> <step> <rank-1 MiB> <chunk KiB> <writers>");
    return 2;
}
var (file, jobId, step, mib, chunkKiB, writers) = (args[0], args[1], long.Parse(args[2]), int.Parse(args[3]), int.Parse(args[4]), int.Parse(args[5]));

const long rank0Length = 1024;
var rank1Length = mib * 1024L * 1024 / ShardChunkFormat.BytesPerElement;
var layout = new FlatLayoutInfo([new FlatParameter("w", [rank0Length + rank1Length], 0, rank0Length + rank1Length)], rank0Length + rank1Length, rank0Length + rank1Length);

await using var store = await SqlCheckpointStore.OpenAsync(CheckpointStoreSettings.Sqlite(file) with { ChunkBytes = chunkKiB * 1024L, Writers = writers });
var receipt0 = await store.SaveShardAsync(jobId, step, 0, Filled(0, rank0Length), CancellationToken.None);
Console.WriteLine("durable rank 0");
var receipt1 = await store.SaveShardAsync(jobId, step, 1, Filled(rank0Length, rank1Length), CancellationToken.None);
Console.WriteLine("durable rank 1");
await store.CommitAsync(new CheckpointManifest
{
    JobId = jobId, Step = step, WorldSize = 2, Layout = layout, Shards = [receipt0, receipt1],
    DataEpoch = 0, DataPosition = 0, SamplesConsumed = 0, RngSeed = 0, SchedulerStep = step,
    FrozenParameters = [], ModelConfigHash = "crash-writer",
});
Console.WriteLine("committed");
return 0;

static OptimizerShard Filled(long start, long length)
{
    var values = new float[length];
    for (var i = 0; i < values.Length; i++) values[i] = (start + i) * 0.5f;
    return new OptimizerShard(start, length, values, (float[])values.Clone(), (float[])values.Clone(), Step: 7);
}
