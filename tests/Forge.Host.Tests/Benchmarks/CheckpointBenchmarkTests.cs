using Forge.Actors.Checkpointing;
using Forge.Host.Benchmarks;

namespace Forge.Host.Tests.Benchmarks;

public sealed class CheckpointBenchmarkTests
{
    [Fact]
    public async Task TheBenchmarkReportsEveryFigureAndLeavesNoCheckpointBehind()
    {
        using var dir = new TempDirectory();
        var settings = CheckpointStoreSettings.Sqlite(Path.Combine(dir.Path, "bench.db")) with { ChunkBytes = 256 * 1024, KeepLastN = 1 };
        await using var store = await SqlCheckpointStore.OpenAsync(settings);
        var output = new StringWriter();
        var options = new CheckpointBenchmarkOptions { StateMiB = 2, Ranks = 2, Checkpoints = 2, StepTime = TimeSpan.FromMilliseconds(1), StepsPerCheckpoint = 1 };

        var result = await CheckpointBenchmark.RunAsync(store, options, output);

        Assert.Equal(2.0, result.StateMiB, precision: 3);
        Assert.True(result.WriteMiBPerSecond > 0 && result.ReadMiBPerSecond > 0);
        // Checkpoints fall due every step while the previous one writes: the job defers them rather than stall.
        Assert.Equal(result.StallSeconds.Count, result.DurableSeconds.Count);
        Assert.InRange(result.StallSeconds.Count, 1, 2);
        Assert.Equal(2 - result.StallSeconds.Count, result.Deferred > 0 ? 2 - result.StallSeconds.Count : 0);
        Assert.All(result.StallSeconds, s => Assert.True(s > 0, "a checkpoint that copied nothing off the device"));
        Assert.True(result.FirstCopySeconds > 0 && result.LoadSeconds > 0 && result.DeviceCopySeconds > 0);
        Assert.True(result.ResumeReadSeconds > 0 && result.ResumeLoadSeconds > 0);
        foreach (var label in new[] { "copy off cpu", "write", "read", "onto cpu", "restore", "rank resume", "checkpoint 1", "stall", "training" })
            Assert.Contains(label, output.ToString());
        Assert.Empty(await store.ListAsync("bench"));
    }
}
