using System.Diagnostics;
using System.Globalization;
using System.Reflection;

namespace Forge.Host.Benchmarks;

/// <summary>
/// A child process of `forge bench supervisor --processes 3`: `forge bench supervisor-ranks`, a `forge node`
/// whose ranks are simulated (<see cref="SupervisorBenchmarkRanks"/>). Its step marks go into the supervisor's
/// <see cref="StepMarks"/>. It dies with the benchmark: killed when disposed, and it exits by itself when its
/// standard input closes, which is what happens when the benchmark's process dies, even by SIGKILL.
/// </summary>
internal sealed class RanksProcess : IDisposable
{
    public const string AddressPrefix = "ranks-node ";

    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();
    private readonly TaskCompletionSource<string> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private RanksProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    public string Name { get; }

    /// <summary>Its cluster address (host:port), once it joined.</summary>
    public Task<string> Address => _address.Task;

    public static RanksProcess Start(string name, string seed, int ranks, SupervisorBenchmarkOptions options, string jobId, string recordFile, StepMarks marks)
    {
        var (file, prefix) = ForgeCommand();
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in prefix.Concat([
                     "bench", "supervisor-ranks", "--seed", seed, "--ranks", ranks.ToString(CultureInfo.InvariantCulture),
                     "--step-ms", options.StepTime.TotalMilliseconds.ToString(CultureInfo.InvariantCulture),
                     "--rank-threads", options.RankThreads.ToString().ToLowerInvariant(), "--job", jobId, "--job-record", recordFile]))
            start.ArgumentList.Add(arg);
        var child = new RanksProcess(new Process { StartInfo = start }, name);
        child._process.OutputDataReceived += (_, e) => child.Read(e.Data, marks);
        child._process.ErrorDataReceived += (_, e) => child.Read(e.Data, marks);
        child._process.EnableRaisingEvents = true;
        child._process.Exited += (_, _) => child._address.TrySetException(new InvalidOperationException($"{name} exited before joining:\n{child.LastLines}"));
        child._process.Start();
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        return child;
    }

    /// <summary>The last lines it printed other than its marks, for errors.</summary>
    public string LastLines
    {
        get { lock (_lastLines) return string.Join('\n', _lastLines); }
    }

    /// <summary>SIGKILL: nothing in the process runs after it, as with `kill -9`.</summary>
    public void Kill() => _process.Kill();

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill();
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException) { }   // never started
        _process.Dispose();
    }

    private void Read(string? line, StepMarks marks)
    {
        if (line is null || marks.Merge(line)) return;
        if (line.StartsWith(AddressPrefix, StringComparison.Ordinal)) _address.TrySetResult(line[AddressPrefix.Length..].Trim());
        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            if (_lastLines.Count > 40) _lastLines.Dequeue();
        }
    }

    /// <summary>How to start this forge again: the apphost itself, or `dotnet forge.dll`.</summary>
    private static (string File, string[] Prefix) ForgeCommand()
    {
        var entry = Assembly.GetEntryAssembly();
        if (entry?.GetName().Name != "forge")
            throw new InvalidOperationException($"--processes 3 starts forge child processes, so it runs only from the forge executable (this is {entry?.GetName().Name ?? "no entry assembly"})");
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this process's executable is unknown");
        return Path.GetFileNameWithoutExtension(host) == "dotnet" ? (host, [entry.Location]) : (host, []);
    }
}
