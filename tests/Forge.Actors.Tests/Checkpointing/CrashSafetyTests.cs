using Forge.Actors.Ranks;
using System.Diagnostics;
using Forge.Actors.Checkpointing;
using Forge.Model.Optim;

namespace Forge.Actors.Tests.Checkpointing;

public sealed class CrashSafetyTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(4)] // four files, four chunk transactions open at the kill
    public async Task AProcessKilledInTheMiddleOfASaveResumesFromThePreviousCommittedCheckpoint(int writers)
    {
        const long chunkKiB = 256;
        // 192 chunks a writer: seconds of writing, so the kill lands mid-save however many files write at once.
        var rank1MiB = 48 * writers;
        var settings = TestStores.Settings(CheckpointStoreKind.Sqlite) with { ChunkBytes = chunkKiB * 1024, Writers = writers };
        var jobId = TestStores.NewJobId("killed");
        var state = new TrainingState(seed: 70);
        var file = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(settings.ConnectionString).DataSource;

        await using (var before = await SqlCheckpointStore.OpenAsync(settings))
            await state.SaveAndCommitAsync(before, jobId, step: 1, worldSize: 2);

        var output = new List<string>();
        // The trigger watches the part files grow rather than counting rows: under the rollback journal a
        // reader can be starved by a writer committing chunk after chunk, and saw every chunk at once on CI.
        var baseline = PartFilesBytes(settings);
        var trigger = baseline + 4 * chunkKiB * 1024; // rank 0's shard is one small chunk; this is rank 1's fourth
        using var child = StartCrashWriter(file, jobId, step: 2, rank1MiB, chunkKiB, writers, output);
        var deadline = Stopwatch.StartNew();
        // Kill as soon as rank 1's chunks have started to land: the save is provably half done.
        while (PartFilesBytes(settings) < trigger && deadline.Elapsed < TimeSpan.FromSeconds(60) && !child.HasExited)
            await Task.Delay(5);
        var exitedByItself = child.HasExited;
        child.Kill(entireProcessTree: true);
        await child.WaitForExitAsync();

        await using var db = new TestStore(await SqlCheckpointStore.OpenAsync(settings), settings);
        var rank1Chunks = await db.RowCountAsync(jobId, step: 2) - 1; // minus rank 0's single chunk
        lock (output)
        {
            Assert.True(rank1Chunks > 0, $"the writer never started rank 1's shard (exited by itself: {exitedByItself}, code {child.ExitCode}); its output: {string.Join(" | ", output)}");
            Assert.Contains("durable rank 0", output);
            Assert.DoesNotContain("committed", output);
        }
        var expectedChunks = rank1MiB * 1024 * 1024 / (ShardChunkFormat.ElementsPerChunk(chunkKiB * 1024) * ShardChunkFormat.BytesPerElement) + 1;
        Assert.InRange(rank1Chunks, 1, expectedChunks - 1);

        var latest = await db.Store.LatestAsync(jobId);
        Assert.Equal(1, latest!.Step);
        var messages = new List<string>();
        var resumeFrom = await ResumePoint.FindAsync(db.Store, jobId, "config-a", messages.Add);
        Assert.Equal(1, resumeFrom.Step);
        Assert.Empty(messages);
        state.AssertBitExact(await ShardRestore.LoadAsync(db.Store, resumeFrom, rank: 0, worldSize: 1, CancellationToken.None));

        // The database is not wedged by the killed writer: the step can be saved again and committed.
        var again = new TrainingState(seed: 71);
        await again.SaveAndCommitAsync(db.Store, jobId, step: 2, worldSize: 2);
        again.AssertBitExact(await db.Store.LoadRangeAsync((await db.Store.LatestAsync(jobId))!, 0, 65));
    }

    private static long PartFilesBytes(CheckpointStoreSettings settings) =>
        Enumerable.Range(0, settings.Parts).Select(settings.SqlitePartFile).Where(File.Exists).Sum(f => new FileInfo(f).Length);

    private static Process StartCrashWriter(string file, string jobId, long step, int mib, long chunkKiB, int writers, List<string> output)
    {
        // tests/Forge.Actors.Tests/bin/<Configuration>/<tfm>/ -> tests/Forge.CheckpointCrashWriter/bin/<Configuration>/<tfm>/
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = tfm.Parent!;
        var tests = configuration.Parent!.Parent!.Parent!;
        var dll = Path.Combine(tests.FullName, "Forge.CheckpointCrashWriter", "bin", configuration.Name, tfm.Name, "Forge.CheckpointCrashWriter.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing; it is built with Forge.Actors.Tests (project reference)");

        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { dll, file, jobId, step.ToString(), mib.ToString(), chunkKiB.ToString(), writers.ToString() }) start.ArgumentList.Add(arg);
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.Add("stderr: " + e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
