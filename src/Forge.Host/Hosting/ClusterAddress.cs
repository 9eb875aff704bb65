namespace Forge.Host.Hosting;

/// <summary>Where a `forge train` process accepts `forge node` processes: it becomes the cluster's seed.</summary>
public sealed record ClusterAddress(string Host, int Port)
{
    public override string ToString() => $"{Host}:{Port}";
}
