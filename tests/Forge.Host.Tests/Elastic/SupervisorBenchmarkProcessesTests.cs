namespace Forge.Host.Tests.Elastic;

/// <summary>`forge bench supervisor --processes 3`, run as the real forge executable (it starts forge child processes).</summary>
public sealed class SupervisorBenchmarkProcessesTests
{
    [Fact]
    public async Task ThreeProcessesPrintEveryColumnIncludingAProcessKillAndLeaveNoChildBehind()
    {
        using var bench = ForgeProcess.Start("bench", "bench", "supervisor", "--ranks", "7", "--processes", "3", "--steps", "3", "--step-ms", "5");

        Assert.Equal(0, await bench.WaitForExitAsync(TimeSpan.FromMinutes(3)));

        var row = Assert.Single(bench.Output.Split('\n'), line => line.TrimStart().StartsWith("7 ", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(12, row.Length);   // ranks, form, barrier median and p99, fan-in, round trip, msgs in and out, heap, working set, both re-formations
        Assert.Equal(["3", "3"], row[6..8]);   // one step and one answer per process of ranks, not per rank
        Assert.All(row[10..], seconds => Assert.True(double.Parse(seconds, System.Globalization.CultureInfo.InvariantCulture) > 0, bench.Output));
        Assert.Contains("process re-form s", bench.Output);
        Assert.Empty(ChildrenOfJob("bench-supervisor-7-3p"));
    }

    /// <summary>Live processes whose command line runs the benchmark's child for `jobId`.</summary>
    private static IEnumerable<string> ChildrenOfJob(string jobId) =>
        Directory.EnumerateDirectories("/proc").Select(d => Path.Combine(d, "cmdline"))
            .Select(f => { try { return File.ReadAllText(f).Replace('\0', ' '); } catch (IOException) { return ""; } catch (UnauthorizedAccessException) { return ""; } })
            .Where(c => c.Contains("supervisor-ranks", StringComparison.Ordinal) && c.Contains(jobId, StringComparison.Ordinal));
}
