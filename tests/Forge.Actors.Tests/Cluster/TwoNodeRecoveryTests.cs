using System.Net;
using System.Net.Sockets;
using Forge.Actors.Cluster;
using Forge.Actors.Ranks;
using Forge.Actors.Supervision;
using Forge.Actors.Tests.Ranks.Fakes;
using Forge.Actors.Training;
using Forge.Model.Config;
using Xunit.Abstractions;

namespace Forge.Actors.Tests.Cluster;

/// <summary>
/// Two actor systems in one process, joined as a cluster on loopback: the seed runs the job with
/// one rank, a second node lends another; killing the second node must leave the job running on
/// the survivor. Every message between them crosses real remoting and the Forge serializer.
/// </summary>
public sealed class TwoNodeRecoveryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task KillingANodeDropsItsRankAndTheSurvivorFinishesTheJob()
    {
        var engines = new FakeEngineFactory(numel: 10) { StepDuration = TimeSpan.FromMilliseconds(40) };
        var store = new FakeCheckpointStore();
        var observer = new RecordingObserver();
        var twoRankStep = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        observer.AfterStep = report => { if (report.WorldSize == 2 && report.Step >= 3) twoRankStep.TrySetResult(); };

        var (seedPort, nodePort) = (FreePort(), FreePort());
        var options = new TrainingJobOptions
        {
            Config = new JobConfig
            {
                RunName = "two-nodes",
                Train = new TrainConfig { MaxSteps = 40 },
                // A store every machine reaches (the fake stands in for it): a SQLite job refuses remote ranks.
                Checkpoint = new CheckpointConfig { Interval = 2, Store = "postgresql" },
                // min 1: the seed may start alone; the second node then joins at a checkpoint.
                Elastic = new ElasticConfig { MinRanks = 1, MaxRanks = 2 },
                Distributed = new DistributedConfig { StepTimeoutSec = 20, FormTimeoutSec = 20 },
            },
            RunDirectory = "runs/two-nodes",
            Ranks = 1,
        };
        var services = new TrainingServices
        {
            Engines = engines,
            Backend = new FakeCollectiveBackend(),
            Store = store,
            CudaDeviceCount = () => 0,
            Cluster = new ClusterSeed("127.0.0.1", seedPort),
        };

        var job = LocalTrainingJob.RunAsync(options, observer, services, CancellationToken.None);
        // The seed outlives the node here, so the node never hosts a supervisor.
        var starts = new SupervisorStarts("two-nodes", launch: null, _ => throw new InvalidOperationException("the seed outlives this node"));
        var node = JobNode.Start("127.0.0.1", nodePort, [$"127.0.0.1:{seedPort}"],
            [new RankServices { Engines = engines, Backend = new FakeCollectiveBackend(), Store = store, Device = -1, Node = "second" }],
            starts, store, new RecordingObserver());

        await twoRankStep.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await node.System.Terminate();                            // the second node dies mid-training
        engines.StepDuration = TimeSpan.FromMilliseconds(1);

        var finished = await job.WaitAsync(TimeSpan.FromSeconds(60));
        foreach (var message in observer.Messages) output.WriteLine(message);

        Assert.True(finished.Completed, finished.Error);
        Assert.Equal(40, finished.FinalStep);
        var sizes = observer.Steps.Select(s => s.WorldSize).ToArray();
        var lastTwoRank = Array.LastIndexOf(sizes, 2);
        Assert.True(lastTwoRank >= 0);
        Assert.All(sizes[(lastTwoRank + 1)..], size => Assert.Equal(1, size));
        Assert.Contains(observer.Messages, m => m.Contains("recovering"));
        // The survivor resumed from a committed checkpoint that the two-rank world wrote.
        Assert.Contains(store.Committed, m => m.WorldSize == 2);
        Assert.Equal((40L, 1), (store.Committed[^1].Step, store.Committed[^1].WorldSize));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
