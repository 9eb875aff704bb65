namespace Forge.Host.Benchmarks;

/// <summary>What `forge bench checkpoint` measures.</summary>
public sealed record CheckpointBenchmarkOptions
{
    /// <summary>Total optimizer state saved per checkpoint (master + two moments), in MiB.</summary>
    public int StateMiB { get; init; } = 256;
    /// <summary>Ranks writing their shards concurrently (one store, parallel writers where the database allows).</summary>
    public int Ranks { get; init; } = 1;
    /// <summary>Checkpoints taken during the simulated training run.</summary>
    public int Checkpoints { get; init; } = 3;
    /// <summary>Simulated step time, and steps between checkpoints.</summary>
    public TimeSpan StepTime { get; init; } = TimeSpan.FromMilliseconds(100);
    public int StepsPerCheckpoint { get; init; } = 5;
    /// <summary>
    /// Drop the kernel's page cache before the read (needs root), so that the read comes from the disk
    /// as after a reboot or on another machine, and compares with anchors that do the same.
    /// </summary>
    public bool DropPageCache { get; init; }
    /// <summary>Where the live shards sit; null for the first GPU when one is visible, else the CPU.</summary>
    public TorchSharp.torch.Device? Device { get; init; }
}
