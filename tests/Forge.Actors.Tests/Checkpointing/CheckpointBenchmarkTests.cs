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
        Assert.All(result.StallSeconds.Zip(result.CopySeconds), s => Assert.True(s.Item1 >= s.Item2, "a stall shorter than its own host copy"));
        foreach (var label in new[] { "write", "read", "checkpoint 1", "checkpoint 2", "stall" })
            Assert.Contains(label, output.ToString());
        Assert.Equal(0, await db.RowCountAsync(jobId: null));
    }
}
