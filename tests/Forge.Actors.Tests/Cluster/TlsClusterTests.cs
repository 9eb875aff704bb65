using System.Net;
using System.Net.Sockets;
using Akka.Cluster;
using Forge.Actors.Cluster;
using Forge.Actors.Ranks;
using Forge.Actors.Security;
using Forge.Actors.Supervision;
using Forge.Actors.Tests.Ranks.Fakes;
using Forge.Actors.Training;
using Forge.Model.Config;
using Xunit.Abstractions;

namespace Forge.Actors.Tests.Cluster;

/// <summary>
/// Actor systems in one process on loopback, their remoting over mutual TLS with certificates made by
/// the `forge certs` code: a node of the cluster's CA joins and trains; a node without a certificate,
/// or with one of another CA, never becomes a member or gets a rank, and the job goes on.
/// </summary>
public sealed class TlsClusterTests(ITestOutputHelper output) : IDisposable
{
    private const string Host = "127.0.0.1";
    private readonly string _root = Directory.CreateTempSubdirectory("forge-tls-").FullName;

    private ClusterCertificates Authority(string name)
    {
        var certs = new ClusterCertificates(Path.Combine(_root, name));
        certs.CreateAuthority(name).Dispose();
        certs.CreateNode(Host).Dispose();
        return certs;
    }

    private static SecurityConfig Trusting(ClusterCertificates certs) => new() { CaCertificate = certs.CaPath, NodeCertificate = certs.NodePath(Host) };

    private static (TrainingJobOptions, TrainingServices) Job(int port, FakeEngineFactory engines, FakeCheckpointStore store, SecurityConfig security, int minRanks, int maxSteps) => (
        new TrainingJobOptions
        {
            Config = new JobConfig
            {
                RunName = "tls",
                Train = new TrainConfig { MaxSteps = maxSteps },
                // A store every machine reaches (the fake stands in for it): a SQLite job refuses remote ranks.
                Checkpoint = new CheckpointConfig { Interval = 5, Store = "postgresql" },
                Elastic = new ElasticConfig { MinRanks = minRanks, MaxRanks = 4 },
                Distributed = new DistributedConfig { StepTimeoutSec = 20, FormTimeoutSec = 30 },
                Security = security,
            },
            RunDirectory = "runs/tls",
            Ranks = 1,
        },
        new TrainingServices
        {
            Engines = engines,
            Backend = new FakeCollectiveBackend(),
            Store = store,
            CudaDeviceCount = () => 0,
            Cluster = new ClusterSeed(Host, port),
        });

    /// <summary>A `forge node` process's part, in this process; the seed outlives it, so it never hosts the supervisor.</summary>
    private static JobNode Node(int seedPort, SecurityConfig security, FakeEngineFactory engines, FakeCheckpointStore store, string name) =>
        JobNode.Start(Host, FreePort(), [$"{Host}:{seedPort}"],
            [new RankServices { Engines = engines, Backend = new FakeCollectiveBackend(), Store = store, Device = -1, Node = name }],
            new SupervisorStarts("tls", launch: null, _ => throw new InvalidOperationException("the seed outlives this node")),
            store, new RecordingObserver(), security: security);

    [Fact]
    public async Task ATlsClusterOfNodesWithCertificatesOfOneCaFormsAndTrains()
    {
        var certs = Authority("ca");
        var engines = new FakeEngineFactory { StepDuration = TimeSpan.FromMilliseconds(20) };
        var store = new FakeCheckpointStore();
        var seedPort = FreePort();
        var (options, services) = Job(seedPort, engines, store, Trusting(certs), minRanks: 2, maxSteps: 20);
        var observer = new RecordingObserver();

        var job = LocalTrainingJob.RunAsync(options, observer, services, CancellationToken.None);
        await using var node = Node(seedPort, Trusting(certs), engines, store, "second");
        var finished = await job.WaitAsync(TimeSpan.FromSeconds(60));
        foreach (var message in observer.Messages) output.WriteLine(message);

        Assert.True(finished.Completed, finished.Error);
        Assert.Equal(20, finished.FinalStep);
        Assert.All(observer.Steps, s => Assert.Equal(2, s.WorldSize));
        Assert.Equal("akka.ssl.tcp", Akka.Cluster.Cluster.Get(node.System).SelfAddress.Protocol);
    }

    [Fact]
    public async Task NodesWithoutTheClustersCertificateNeverBecomeMembersOrGetARankAndTheJobGoesOn()
    {
        var ours = Authority("ours");
        var theirs = Authority("theirs");
        var engines = new FakeEngineFactory { StepDuration = TimeSpan.FromMilliseconds(40) };
        var strangers = new FakeEngineFactory();
        var store = new FakeCheckpointStore();
        var seedPort = FreePort();
        // Two ranks to form: the trusted node's, which shows the cluster was open to the right certificate.
        var (options, services) = Job(seedPort, engines, store, Trusting(ours), minRanks: 2, maxSteps: 60);
        var observer = new RecordingObserver();

        var job = LocalTrainingJob.RunAsync(options, observer, services, CancellationToken.None);
        // The strangers knock first, and keep knocking while the job runs.
        await using var otherCa = Node(seedPort, Trusting(theirs), strangers, store, "other-ca");
        await using var plain = Node(seedPort, new SecurityConfig(), strangers, store, "no-certificate");
        await using var trusted = Node(seedPort, Trusting(ours), engines, store, "trusted");
        var finished = await job.WaitAsync(TimeSpan.FromSeconds(90));
        foreach (var message in observer.Messages) output.WriteLine(message);

        Assert.True(finished.Completed, finished.Error);
        Assert.Equal(60, finished.FinalStep);
        Assert.All(observer.Steps, s => Assert.Equal(2, s.WorldSize));
        Assert.Empty(strangers.Engines);
        Assert.Equal(MemberStatus.Up, Akka.Cluster.Cluster.Get(trusted.System).SelfMember.Status);
        Assert.NotEqual(MemberStatus.Up, Akka.Cluster.Cluster.Get(otherCa.System).SelfMember.Status);
        Assert.NotEqual(MemberStatus.Up, Akka.Cluster.Cluster.Get(plain.System).SelfMember.Status);
        // Akka.Remote shuts down a node whose TLS handshake failed; `forge node` then reports the refusal.
        var refused = (await otherCa.RunAsync(stopJobOnCancel: false, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10))).LastLeave;
        Assert.True(refused is { Refused: true }, refused?.Reason);
        Assert.Contains("do not trust each other's certificate", refused.Reason);
    }

    [Fact]
    public async Task RemotingListensOnlyOnItsHost()
    {
        var port = FreePort();
        var system = ForgeAkkaConfig.CreateNode(Host, port, [], trust: null);
        try
        {
            using (var onHost = new TcpClient()) await onHost.ConnectAsync(IPAddress.Loopback, port);
            // Another address of this machine (all of 127/8 is loopback on Linux): a socket bound to every interface would answer there.
            using var elsewhere = new TcpClient();
            var refused = await Assert.ThrowsAsync<SocketException>(() => elsewhere.ConnectAsync(IPAddress.Parse("127.0.0.2"), port));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }
        finally
        {
            await system.Terminate();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { /* a leftover temp dir is harmless */ }
    }
}
