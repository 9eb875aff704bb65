using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Forge.Actors.Security;

namespace Forge.Actors.Cluster;

/// <summary>The HOCON of Forge processes: config/akka.conf (embedded) plus the node's own address.</summary>
public static class ForgeAkkaConfig
{
    /// <summary>Every Forge process names its actor system alike, so actor paths agree across nodes.</summary>
    public const string SystemName = "forge";

    private static readonly Lazy<Config> EmbeddedDefaults = new(() =>
    {
        using var stream = typeof(ForgeAkkaConfig).Assembly.GetManifestResourceStream("Forge.Actors.akka.conf")
                           ?? throw new InvalidOperationException("Forge.Actors.akka.conf is not embedded in Forge.Actors (see Forge.Actors.csproj)");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    });

    /// <summary>config/akka.conf as shipped.</summary>
    public static Config Defaults => EmbeddedDefaults.Value;

    /// <summary>A single-process job: no remoting, no cluster; the serializer bindings stay harmless.</summary>
    public static Config SingleProcess() =>
        ConfigurationFactory.ParseString("akka.actor.provider = local").WithFallback(Defaults);

    /// <summary>
    /// A cluster member bound to host:port (remoting listens on that address only, and advertises it)
    /// that joins `seeds` ("host:port"; empty: it is the first seed); with <paramref name="tls"/>, over TLS.
    /// </summary>
    public static Config Node(string host, int port, IReadOnlyList<string> seeds, bool tls = false)
    {
        if (port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(port), port, "expected a TCP port in [0, 65535]");
        var seedList = string.Join(", ", seeds.Select(s => $"\"{Address(s, tls)}\""));
        return ConfigurationFactory.ParseString($$"""
            akka.remote.dot-netty.tcp.hostname = "{{host}}"
            akka.remote.dot-netty.tcp.public-hostname = "{{host}}"
            akka.remote.dot-netty.tcp.port = {{port}}
            akka.remote.dot-netty.tcp.enable-ssl = {{(tls ? "on" : "off")}}
            akka.cluster.seed-nodes = [{{seedList}}]
            """).WithFallback(Defaults);
    }

    /// <summary>
    /// Akka's log into <paramref name="file"/> (at INFO) rather than the console, layered over <paramref name="config"/>.
    /// Startup messages before the logger runs still reach stderr, and only at ERROR.
    /// </summary>
    public static Config LoggingTo(Config config, string file) =>
        ConfigurationFactory.ParseString($$"""
            akka.loggers = ["Forge.Actors.Cluster.AkkaFileLogger, Forge.Actors"]
            akka.loglevel = INFO
            akka.stdout-loglevel = ERROR
            {{AkkaFileLogger.FileKey}} = "{{file.Replace("\\", "\\\\").Replace("\"", "\\\"")}}"
            """).WithFallback(config);

    /// <summary>
    /// The actor system of a cluster member (see <see cref="Node"/>). With <paramref name="trust"/>,
    /// remoting runs over mutual TLS with its certificate and validation, and the system disposes the
    /// certificates when it terminates; without, over plain TCP (a loopback cluster, see <see cref="ClusterTrust.For"/>).
    /// <paramref name="overrides"/>: extra HOCON over the node's (tests), or null.
    /// </summary>
    public static ActorSystem CreateNode(string host, int port, IReadOnlyList<string> seeds, ClusterTrust? trust, Config? overrides = null)
    {
        var config = Node(host, port, seeds, tls: trust is not null);
        var bootstrap = BootstrapSetup.Create().WithConfig(overrides is null ? config : overrides.WithFallback(config));
        if (trust is null) return ActorSystem.Create(SystemName, bootstrap);
        var system = ActorSystem.Create(SystemName, ActorSystemSetup.Create(bootstrap, trust.SslSetup()));
        system.WhenTerminated.ContinueWith(_ => trust.Dispose(), TaskScheduler.Default);
        return system;
    }

    /// <summary>"host:port" as an Akka address (akka.ssl.tcp with TLS); an error names the value and the expected form.</summary>
    public static string Address(string hostPort, bool tls = false)
    {
        var colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(hostPort.AsSpan(colon + 1), out var port) || port is <= 0 or > 65535)
            throw new ArgumentException($"seed '{hostPort}': expected host:port, for example 10.0.0.5:4053", nameof(hostPort));
        return $"{(tls ? "akka.ssl.tcp" : "akka.tcp")}://{SystemName}@{hostPort}";
    }
}
