using System.Diagnostics;

namespace Forge.Host.Tests.Elastic;

/// <summary>
/// A real `forge` process (the built Forge.Host), started from the repository root so that the shipped
/// configs find their data, with its output kept. <see cref="Kill"/> is SIGKILL: nothing in the process
/// runs after it, as with `kill -9`.
/// </summary>
internal sealed class ForgeProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private ForgeProcess(Process process) => _process = process;

    public string Name { get; private init; } = "";

    public static ForgeProcess Start(string name, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = RepositoryPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ForgeDll);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        // Three processes share the CI machine's two cores: one torch thread each keeps them from
        // thrashing, and a plain console keeps the output line by line.
        start.Environment["OMP_NUM_THREADS"] = "1";
        start.Environment["NO_COLOR"] = "1";
        start.Environment["TERM"] = "dumb";
        var process = new Process { StartInfo = start };
        var forge = new ForgeProcess(process) { Name = name };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (forge._output) forge._output.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (forge._output) forge._output.Add(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return forge;
    }

    /// <summary>src/Forge.Host/bin/&lt;configuration&gt;/&lt;tfm&gt;/forge.dll, of the configuration these tests were built in.</summary>
    private static string ForgeDll
    {
        get
        {
            var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var dll = Path.Combine(RepositoryPaths.Root, "src", "Forge.Host", "bin", tfm.Parent!.Name, tfm.Name, "forge.dll");
            Assert.True(File.Exists(dll), $"{dll} is missing: build the solution first");
            return dll;
        }
    }

    public string Output
    {
        get { lock (_output) return string.Join('\n', _output); }
    }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Waits until a line of output matches, failing with the output so far when the process ends or time runs out.</summary>
    public async Task WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            lock (_output) if (_output.Any(match)) return;
            if (_process.HasExited)
                throw new Xunit.Sdk.XunitException($"{Name} exited ({_process.ExitCode}) before {what}:\n{Output}");
            await Task.Delay(100);
        }
        throw new TimeoutException($"{Name}: no {what} within {timeout}:\n{Output}");
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} did not exit within {timeout}:\n{Output}");
        }
        return _process.ExitCode;
    }

    /// <summary>SIGKILL.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
