using Forge.Actors.Checkpointing;

namespace Forge.Actors.Tests.Checkpointing;

public sealed class CheckpointBenchmarkTests
{
    [Fact]
    public async Task TheBenchmarkReportsEveryFigureAndLeavesNoCheckpointBehind()
    {
        await using var db = await TestStores.OpenAsync(CheckpointStoreKind.Sqlite, chunkBytes: 256 * 1024);
        var output = new StringWriter();
        var options = new CheckpointBenchmarkOptions { StateMiB = 2, Ranks = 2, Checkpoints = 2, StepTime = TimeSpan.FromMilliseconds(1), StepsPerCheckpoint = 1 };

        var result = await CheckpointBenchmark.RunAsync(db.Store, options, output);

        Assert.Equal(2.0, result.StateMiB, precision: 3);
        Assert.True(result.WriteMiBPerSecond > 0 && result.ReadMiBPerSecond > 0);
        Assert.Equal(2, result.StallSeconds.Count);
        Assert.Equal(2, result.DurableSeconds.Count);
        Assert.All(result.StallSeconds, s => Assert.True(s > 0, "a checkpoint that copied nothing off the device"));
        Assert.True(result.FirstCopySeconds > 0 && result.LoadSeconds > 0);
        foreach (var label in new[] { "copy off cpu", "write", "read", "onto cpu", "checkpoint 1", "checkpoint 2", "stall" })
            Assert.Contains(label, output.ToString());
        Assert.Equal(0, await db.RowCountAsync(jobId: null));
    }
}
