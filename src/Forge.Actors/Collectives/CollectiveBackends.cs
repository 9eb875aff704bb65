using Forge.Actors.Collectives.Nccl;
using Forge.Actors.Collectives.Tcp;
using Forge.Model.Config;
using Forge.Model.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Actors.Collectives;

/// <summary>
/// Picks the collective backend for a rank from `distributed.backend`: "auto" means NCCL when the
/// rank computes on a CUDA device and the CPU (TCP) backend otherwise; "nccl" and "tcp" force one.
/// </summary>
public static class CollectiveBackends
{
    /// <param name="host">The address the TCP data plane binds to and other ranks reach it at (this node's --host; loopback for one machine).</param>
    public static ICollectiveBackend For(DistributedConfig config, Device device, string host)
    {
        return config.Backend switch
        {
            DistributedConfig.Auto => device.type == DeviceType.CUDA ? new NcclCollectiveBackend(device.index < 0 ? 0 : device.index) : new TcpCollectiveBackend(host),
            DistributedConfig.Nccl when device.type != DeviceType.CUDA =>
                throw new ArgumentException($"distributed.backend = \"nccl\" needs CUDA ranks, but this rank runs on {device}"),
            DistributedConfig.Nccl => new NcclCollectiveBackend(device.index < 0 ? 0 : device.index),
            DistributedConfig.Tcp or DistributedConfig.Cpu => new TcpCollectiveBackend(host),
            _ => throw new ArgumentException($"distributed.backend = '{config.Backend}': expected one of {string.Join(", ", DistributedConfig.Backends.Select(b => $"\"{b}\""))}"),
        };
    }
}
