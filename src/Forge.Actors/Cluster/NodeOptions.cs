using Forge.Model.Config;

namespace Forge.Actors.Cluster;

/// <summary>`forge node --seed host:port --host H --port P --gpu 0,1`: a process that lends its ranks to a job.</summary>
public sealed record NodeOptions
{
    /// <summary>The seed node ("host:port") that runs the job supervisor.</summary>
    public required string Seed { get; init; }
    /// <summary>The address other nodes reach this one at.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; }
    /// <summary>GPU indices to run one rank each on; empty runs `CpuRanks` CPU ranks instead.</summary>
    public IReadOnlyList<int> Gpus { get; init; } = [];
    public int CpuRanks { get; init; } = 1;
    /// <summary>The job config's [security]: the certificates remoting runs TLS with (see <see cref="Security.ClusterTrust.For"/>).</summary>
    public SecurityConfig Security { get; init; } = new();

    /// <summary>One entry per rank: a GPU index, or -1 for a CPU rank.</summary>
    public IReadOnlyList<int> Devices()
    {
        if (Gpus.Count > 0)
        {
            var bad = Gpus.FirstOrDefault(g => g < 0);
            if (bad < 0) throw new ArgumentException($"--gpu {string.Join(",", Gpus)}: GPU indices must be 0 or greater");
            return Gpus;
        }
        if (CpuRanks < 1) throw new ArgumentException($"CPU ranks = {CpuRanks}: expected at least 1");
        return Enumerable.Repeat(-1, CpuRanks).ToArray();
    }
}
