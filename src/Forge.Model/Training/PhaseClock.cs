using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Training;

/// <summary>
/// Splits a step's wall time into phases. CUDA kernels run asynchronously, so on a GPU each lap
/// first waits for the device: otherwise a phase would be charged for the kernels queued by the one
/// before it. The waits cost a little overlap between phases; honest timings are worth it. Without
/// <paramref name="synchronise"/> laps are host time only, and the total is the step's wall time
/// when the step ends on a host read of a device result (the engine's does).
/// </summary>
internal sealed class PhaseClock(Device device, bool synchronise = true)
{
    private readonly Stopwatch _total = Stopwatch.StartNew();
    private TimeSpan _last;

    /// <summary>Seconds since the previous lap (or since the clock started).</summary>
    public double Lap()
    {
        if (synchronise && device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
        var now = _total.Elapsed;
        var lap = (now - _last).TotalSeconds;
        _last = now;
        return lap;
    }

    public double Total => _total.Elapsed.TotalSeconds;
}
