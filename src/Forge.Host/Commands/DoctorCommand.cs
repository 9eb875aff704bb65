using System.CommandLine;
using Forge.Actors.Collectives.Nccl;
using Forge.Model.Runtime;

namespace Forge.Host.Commands;

/// <summary>`forge doctor`: what this host can run, and how to fix what it cannot.</summary>
public static class DoctorCommand
{
    public static Command Create()
    {
        var command = new Command("doctor", "Show the torch backend, libtorch, CUDA devices and NCCL, and explain load failures.");
        command.SetAction(_ => Run(Console.Out));
        return command;
    }

    public static int Run(TextWriter output)
    {
        var torch = TorchRuntime.Probe();
        output.WriteLine($"torch backend : {torch.Backend}");
        output.WriteLine($"TorchSharp    : {torch.TorchSharpVersion}");
        if (!torch.Loaded)
        {
            output.WriteLine("libtorch      : NOT LOADED");
            output.WriteLine($"cause         : {torch.Error}");
            output.WriteLine($"fix           : {torch.Fix}");
            return 1;
        }
        output.WriteLine($"libtorch      : {torch.LibTorchVersion}");
        output.WriteLine($"CUDA          : {(torch.CudaAvailable ? $"{torch.CudaDevices.Count} device(s)" : "not available (CPU ranks only)")}");
        foreach (var device in torch.CudaDevices) output.WriteLine($"  {device}");
        var nccl = NcclLibrary.Version();
        NcclLibrary.TryLoad(out _, out var from);
        output.WriteLine($"NCCL          : {(nccl is null ? "not found (set FORGE_NCCL_LIB or LD_LIBRARY_PATH to use GPUs across ranks)" : $"{nccl} ({from})")}");
        output.WriteLine($"CPU threads   : {Environment.ProcessorCount}");
        return 0;
    }
}
