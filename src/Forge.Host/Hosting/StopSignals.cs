using System.Runtime.InteropServices;

namespace Forge.Host.Hosting;

/// <summary>
/// SIGINT and SIGTERM for a training job. The first asks the job to stop: it finishes (or
/// aborts) the current step, writes a checkpoint and returns, and the process exits 0 with a
/// resume hint. A second signal exits at once, with the shell's 128+signal code.
/// </summary>
public sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Action<string> _say;
    private readonly Action<int> _exitNow;
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _received;

    /// <param name="say">Where to tell the user what the signal does.</param>
    /// <param name="exitNow">Ends the process with the given code (tests pass a recorder).</param>
    public StopSignals(Action<string> say, Action<int>? exitNow = null)
    {
        _say = say;
        _exitNow = exitNow ?? Environment.Exit;
    }

    public CancellationToken Token => _stop.Token;

    /// <summary>The first signal's name, once one arrived ("SIGINT"), for the journal.</summary>
    public string? StoppedBy { get; private set; }

    /// <summary>Handles the real process signals from now until disposal.</summary>
    public StopSignals Register()
    {
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            _registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                // Keep the runtime from terminating the process itself; Handle decides.
                context.Cancel = true;
                Handle(context.Signal);
            }));
        return this;
    }

    public void Handle(PosixSignal signal)
    {
        var name = signal == PosixSignal.SIGINT ? "SIGINT" : signal == PosixSignal.SIGTERM ? "SIGTERM" : signal.ToString();
        if (Interlocked.Increment(ref _received) == 1)
        {
            StoppedBy = name;
            _say($"{name}: stopping after the current step and writing a checkpoint (send it again to exit at once)");
            _stop.Cancel();
            return;
        }
        _say($"{name} again: exiting now, without a checkpoint");
        _exitNow(128 + (signal == PosixSignal.SIGTERM ? 15 : 2));
    }

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
        _stop.Dispose();
    }
}
