using Forge.Actors.Checkpointing;
using Forge.Actors.Protocol;
using Forge.Actors.Tests.Checkpointing;
using Forge.Actors.Tests.Collectives;
using Forge.Model.Distributed;
using Forge.Model.Optim;
using Forge.Model.Tests.Training;
using Forge.Model.Tests.Training.Fixtures;
using Forge.Model.Training;
using Xunit.Abstractions;

namespace Forge.Actors.Tests.Equivalence;

/// <summary>
/// The whole checkpoint path, end to end on CPU: W ranks train, persist their shards through the
/// real SQLite store, the manifest is committed; W' ranks read their resharded ranges back and
/// continue. The continued run's per-step losses must equal those of an uninterrupted one-rank run.
/// Tolerance 1e-5 relative: the runs differ only in fp32 summation order (see
/// <see cref="DataParallelEquivalenceTests"/>), which moves these losses (order 1) by about 1e-7.
/// </summary>
public class CheckpointResumeLossTests(ITestOutputHelper output)
{
    private const int GlobalBatch = 12;
    private const int MicroBatch = 2;
    private const int Steps = 8;
    private const int SavedAt = 4;

    [Theory]
    [InlineData(3, 2)]
    [InlineData(1, 4)]
    [InlineData(4, 1)]
    public async Task ARunResumedOnAnotherWorldSizeContinuesWithTheUninterruptedLosses(int savedBy, int resumedOn)
    {
        var config = EngineReference.Config(GlobalBatch, MicroBatch);
        var uninterrupted = OneRankLosses(config);

        await using var test = await TestStores.OpenAsync(CheckpointStoreKind.Sqlite, chunkBytes: 512);
        var store = test.Store;
        var jobId = TestStores.NewJobId("resume-loss");

        var saved = LoopbackGroup.Run(savedBy, group =>
        {
            using var data = new SyntheticCaptions(GlobalBatch);
            using var engine = new ShardedRankEngine(() => new TinyCaptionModel(3), data, group, config);
            for (var s = 0; s < SavedAt; s++) engine.RunStep(s);
            var receipt = store.SaveShardAsync(jobId, SavedAt, group.Rank, engine.SnapshotShard()).GetAwaiter().GetResult();
            return (receipt, engine.Layout);
        });
        var layout = saved[0].Layout;
        await store.CommitAsync(new CheckpointManifest
        {
            JobId = jobId, Step = SavedAt, WorldSize = savedBy, Layout = layout,
            Shards = saved.Select(s => s.receipt).ToArray(),
            DataEpoch = 0, DataPosition = SavedAt * GlobalBatch, SamplesConsumed = SavedAt * GlobalBatch,
            RngSeed = 3, SchedulerStep = SavedAt, FrozenParameters = [], ModelConfigHash = "tiny",
        });

        var manifest = await store.LatestAsync(jobId) ?? throw new InvalidOperationException("no committed checkpoint");
        Assert.Equal(SavedAt, manifest.Step);
        var resumed = LoopbackGroup.Run(resumedOn, group =>
        {
            var padded = ShardRange.PaddedNumel(layout.Numel, resumedOn);
            var length = padded / resumedOn;
            var shard = store.LoadRangeAsync(manifest, group.Rank * length, length).GetAwaiter().GetResult();
            using var data = new SyntheticCaptions(GlobalBatch);
            using var engine = new ShardedRankEngine(() => new TinyCaptionModel(3), data, group, config, firstStep: SavedAt);
            engine.LoadShard([shard]);
            return Enumerable.Range(SavedAt, Steps - SavedAt).Select(s => engine.RunStep(s).WorldLoss).ToArray();
        });

        var continued = resumed[0];
        for (var i = 0; i < continued.Length; i++)
        {
            var expected = uninterrupted[SavedAt + i];
            output.WriteLine($"step {SavedAt + i}: uninterrupted {expected:F7}, {savedBy} -> {resumedOn} ranks {continued[i]:F7}");
            Assert.True(Math.Abs(continued[i] - expected) <= 1e-5 * Math.Abs(expected),
                $"step {SavedAt + i}: resumed loss {continued[i]} differs from uninterrupted {expected}");
        }
        // Every rank of the resumed world reports the same global loss.
        Assert.All(resumed, r => Assert.Equal(continued, r));
    }

    private static double[] OneRankLosses(Forge.Model.Config.JobConfig config)
    {
        using var data = new SyntheticCaptions(GlobalBatch);
        using var engine = new ShardedRankEngine(() => new TinyCaptionModel(3), data, new SingleRankCollectives(), config);
        return Enumerable.Range(0, Steps).Select(s => engine.RunStep(s).WorldLoss).ToArray();
    }
}
