using Forge.Actors.Protocol;
using Forge.Actors.Supervision;

namespace Forge.Actors.Tests.Supervision;

public sealed class ReplicaLedgerTests
{
    // Three processes: two on machine a, one on machine b.
    private static readonly string[] Endpoints = ["a:1", "a:2", "b:1"];

    // Each world's endpoints, by epoch, so a round's buddies are chosen as the supervisor chooses them.
    private static readonly Dictionary<(ReplicaLedger, long), string[]> Worlds = [];

    private static ReplicaLedger World(long epoch = 1, string[]? endpoints = null, ReplicaLedger? ledger = null)
    {
        ledger ??= new ReplicaLedger();
        endpoints ??= Endpoints;
        ledger.BeginWorld(epoch, endpoints);
        lock (Worlds) Worlds[(ledger, epoch)] = endpoints;
        return ledger;
    }

    private static void Start(ReplicaLedger ledger, long epoch, long step, long samples)
    {
        string[] endpoints;
        lock (Worlds) endpoints = Worlds[(ledger, epoch)];
        ledger.Started(new ReplicaStep(epoch, step), samples, ReplicaLedger.Buddies(endpoints));
    }

    private static void Round(ReplicaLedger ledger, long epoch, long step, int worldSize, long samples = 0)
    {
        Start(ledger, epoch, step, samples == 0 ? step * 8 : samples);
        for (var rank = 0; rank < worldSize; rank++) ledger.Replicated(new ReplicaStep(epoch, step), rank);
    }

    [Fact]
    public void ABuddyIsOnAnotherMachineWhenThereIsOneElseInAnotherProcess()
    {
        Assert.Equal(["b:1", "b:1", "a:1"], ReplicaLedger.Buddies(Endpoints));
        Assert.Equal(["h:2", "h:1"], ReplicaLedger.Buddies(["h:1", "h:2"]));
        // Ranks of one process cannot protect each other; a rank without a replica channel has no buddy.
        Assert.Equal([null, null], ReplicaLedger.Buddies(["h:1", "h:1"]));
        Assert.Equal(["h:2", "h:1", null], ReplicaLedger.Buddies(["h:1", "h:2", ""]));
    }

    [Fact]
    public void AWorldWithoutAnotherProcessCopiesToAMemoryOnlyHolderAndARankOnAnotherMachineComesFirst()
    {
        // One GPU rank, its buddy a memory-only process beside it.
        Assert.Equal(["h:9"], ReplicaLedger.Buddies(["h:1"], ["h:9"]));
        // Two ranks of one process: both copy to the holders, spread over them by rank.
        Assert.Equal(["h:8", "h:9"], ReplicaLedger.Buddies(["h:1", "h:1"], ["h:8", "h:9"]));
        // Another machine beats another process: a holder on machine b beats a rank on a, a rank on b beats the holder.
        Assert.Equal(["b:9", "b:9"], ReplicaLedger.Buddies(["a:1", "a:2"], ["b:9"]));
        Assert.Equal(["b:1", "a:1"], ReplicaLedger.Buddies(["a:1", "b:1"], ["b:9"]));
        Assert.Equal([null], ReplicaLedger.Buddies(["h:1"], []));
    }

    [Fact]
    public void ACopyHeldByAMemoryOnlyHolderRestoresTheShardOfALostRank()
    {
        var ledger = World(endpoints: ["h:1"]);
        ledger.Started(new ReplicaStep(1, 4), 32, ReplicaLedger.Buddies(["h:1"], ["h:9"]));
        ledger.Replicated(new ReplicaStep(1, 4), 0);
        ledger.Lose("h:1");   // the GPU rank's process

        var restore = ledger.RestorePoint(numel: 10).Restore!;
        Assert.Equal((4L, 32L), (restore.Step, restore.SamplesConsumed));
        Assert.Equal(["h:9"], restore.Sources.Select(s => s.Endpoint));
        ledger.Lose("h:9");
        Assert.Null(ledger.RestorePoint(10).Restore);
    }

    [Fact]
    public void EveryBuddyFollowsItsDefinitionInLargeMixedWorldsWithAndWithoutHolders()
    {
        var random = new Random(15);
        string[] processes = ["a:1", "a:2", "b:1", "b:2", "c:1", ""];
        string[] holderPool = ["a:9", "b:9", "d:9"];
        for (var trial = 0; trial < 200; trial++)
        {
            // A few ranks of few processes, and worlds that are mostly one process, where the nearest other is far.
            var endpoints = Enumerable.Range(0, random.Next(1, 60))
                .Select(_ => processes[random.Next(trial % 2 == 0 ? processes.Length : 2)]).ToArray();
            var holders = holderPool.Take(random.Next(0, holderPool.Length + 1)).ToArray();

            Assert.Equal(BuddiesByDefinition(endpoints, holders), ReplicaLedger.Buddies(endpoints, holders));
        }
    }

    /// <summary>
    /// The definition, scanned rank by rank: the first later rank (cyclically) on another machine, else a holder
    /// (from the rank's position on) on another machine, else the first later rank in another process, else a holder
    /// in another process.
    /// </summary>
    private static string?[] BuddiesByDefinition(string[] endpoints, string[] holders)
    {
        static string Host(string endpoint) => endpoint[..endpoint.LastIndexOf(':')];
        var buddies = new string?[endpoints.Length];
        for (var rank = 0; rank < endpoints.Length; rank++)
        {
            var own = endpoints[rank];
            if (own.Length == 0) continue;
            var later = Enumerable.Range(1, endpoints.Length - 1).Select(k => endpoints[(rank + k) % endpoints.Length])
                .Where(e => e.Length > 0 && e != own).ToList();
            var holding = Enumerable.Range(0, holders.Length).Select(k => holders[(rank + k) % holders.Length]).Where(e => e != own).ToList();
            buddies[rank] = later.FirstOrDefault(e => Host(e) != Host(own)) ?? holding.FirstOrDefault(e => Host(e) != Host(own))
                            ?? later.FirstOrDefault() ?? holding.FirstOrDefault();
        }
        return buddies;
    }

    [Fact]
    public void TheRestorePointIsTheNewestStepWhoseEveryShardHasACopyInALiveProcess()
    {
        var ledger = World();
        Round(ledger, 1, 5, 3);
        Round(ledger, 1, 6, 3);
        ledger.Lose("a:1");   // rank 0's process: its shard lives on at its buddy b:1

        var (restore, _) = ledger.RestorePoint(numel: 30);

        Assert.NotNull(restore);
        Assert.Equal((1L, 6L, 48L, 3, 30L), (restore.SourceEpoch, restore.Step, restore.SamplesConsumed, restore.SourceWorldSize, restore.Numel));
        Assert.Equal(["b:1", "a:2", "b:1"], restore.Sources.Select(s => s.Endpoint));
        Assert.Equal([0, 1, 2], restore.Sources.Select(s => s.OwnerRank));
    }

    [Fact]
    public void AShardAndItsCopyBothGoneLeaveNoRestorePoint()
    {
        var ledger = World();
        Round(ledger, 1, 5, 3);
        ledger.Lose("a:1");
        ledger.Lose("b:1");   // rank 0's owner and its buddy: two adjacent failures

        var (restore, reason) = ledger.RestorePoint(numel: 30);

        Assert.Null(restore);
        Assert.Contains("rank 0", reason);
        Assert.Contains("both gone", reason);
    }

    [Fact]
    public void ARoundThatNotEveryRankReportedIsNeverRestored()
    {
        var ledger = World();
        Round(ledger, 1, 5, 3);
        Start(ledger, 1, 6, 48);
        ledger.Replicated(new ReplicaStep(1, 6), 0);
        ledger.Replicated(new ReplicaStep(1, 6), 1);   // rank 2's copy of step 6 was still on its way

        Assert.True(ledger.InFlight);
        Assert.Equal(5, ledger.RestorePoint(30).Restore!.Step);
        Assert.Equal([new ReplicaStep(1, 5)], ledger.Retained);
    }

    [Fact]
    public void ARoundIsInFlightUntilEveryRankReportedOrOneFailed()
    {
        var ledger = World();
        Start(ledger, 1, 1, 8);
        ledger.Replicated(new ReplicaStep(1, 1), 0);
        Assert.True(ledger.InFlight);
        ledger.Replicated(new ReplicaStep(1, 1), 1);
        ledger.Replicated(new ReplicaStep(1, 1), 2);
        Assert.False(ledger.InFlight);

        Start(ledger, 1, 2, 16);
        ledger.Failed(new ReplicaStep(1, 2), 1);
        Assert.False(ledger.InFlight);
        Assert.Equal(1, ledger.RestorePoint(30).Restore!.Step);
    }

    [Fact]
    public void OnlyTheNewestCompleteRoundIsRetainedSoAShardHasTwoCopiesAtMost()
    {
        var ledger = World();
        for (var step = 1L; step <= 4; step++)
        {
            Round(ledger, 1, step, 3);
            Assert.Equal([new ReplicaStep(1, step)], ledger.Retained);
        }
    }

    [Fact]
    public void ACopyReportedAfterItsHolderWasLostDoesNotCount()
    {
        var ledger = World(endpoints: ["h:1", "h:2"]);
        Start(ledger, 1, 3, 24);
        ledger.Replicated(new ReplicaStep(1, 3), 1);
        ledger.Lose("h:1");
        ledger.Replicated(new ReplicaStep(1, 3), 0);   // its report crossed the loss of its process

        var restore = ledger.RestorePoint(20).Restore!;
        Assert.Equal(["h:2", "h:2"], restore.Sources.Select(s => s.Endpoint));
        ledger.Lose("h:2");
        Assert.Null(ledger.RestorePoint(20).Restore);
    }

    [Fact]
    public void ARestoredWorldKeepsTheOldCopiesUntilItsOwnFirstRoundCompletes()
    {
        var ledger = World(endpoints: ["h:1", "h:2", "h:3"]);
        Round(ledger, 1, 7, 3);
        ledger.Lose("h:3");
        // World 2 restored step 7 from memory with the two survivors.
        World(2, ["h:1", "h:2"], ledger);
        Assert.Equal((1L, 7L), (ledger.RestorePoint(20).Restore!.SourceEpoch, ledger.RestorePoint(20).Restore!.Step));

        Round(ledger, 2, 8, 2);
        var restore = ledger.RestorePoint(20).Restore!;
        Assert.Equal((2L, 8L, 2), (restore.SourceEpoch, restore.Step, restore.SourceWorldSize));
        Assert.Equal([new ReplicaStep(2, 8)], ledger.Retained);
    }

    // A world of three ranks over 30 elements, shards [0,10) [10,20) [20,30), seen by a supervisor that took the job over.
    private static HeldCopy Held(int owner, long step = 6, long epoch = 1, long samples = 48) => new(epoch, step, owner, owner * 10, 10, samples);

    [Fact]
    public void ATakenOverJobRestoresTheNewestStepWhoseAdoptedCopiesCoverTheWholeLayout()
    {
        var ledger = new ReplicaLedger();
        // The dead process held rank 0's shard and rank 2's copy; the survivors hold the rest, step 5 and 6 both.
        ledger.Adopt(new ReplicaInventory("a:2", [Held(1), Held(0), Held(1, step: 5), Held(0, step: 5)]));
        ledger.Adopt(new ReplicaInventory("b:1", [Held(2), Held(0), Held(2, step: 5)]));

        var (restore, _) = ledger.RestorePoint(numel: 30);

        Assert.NotNull(restore);
        Assert.Equal((1L, 6L, 48L, 3, 30L), (restore.SourceEpoch, restore.Step, restore.SamplesConsumed, restore.SourceWorldSize, restore.Numel));
        Assert.Equal(["a:2", "a:2", "b:1"], restore.Sources.Select(s => s.Endpoint));
        Assert.Contains(new ReplicaStep(1, 6), ledger.Retained);
        // The last shard may end in padding (29 elements over 3 ranks), but the ranges must be the world's shards.
        Assert.NotNull(ledger.RestorePoint(numel: 29).Restore);
        Assert.Null(ledger.RestorePoint(numel: 31).Restore);
    }

    [Fact]
    public void AdoptedCopiesThatMissAShardOrAreLostGiveNoRestorePoint()
    {
        var gap = new ReplicaLedger();
        gap.Adopt(new ReplicaInventory("a:2", [Held(0), Held(1)]));   // rank 2's shard and its copy went with the dead process
        Assert.Null(gap.RestorePoint(numel: 30).Restore);

        var lost = new ReplicaLedger();
        lost.Adopt(new ReplicaInventory("a:2", [Held(0), Held(1)]));
        lost.Adopt(new ReplicaInventory("b:1", [Held(2)]));
        lost.Lose("b:1");
        Assert.Null(lost.RestorePoint(numel: 30).Restore);

        // Two holders that disagree on a shard's range do not hold the same copy.
        var conflict = new ReplicaLedger();
        conflict.Adopt(new ReplicaInventory("a:2", [Held(0), Held(1), Held(2)]));
        conflict.Adopt(new ReplicaInventory("b:1", [Held(2) with { Length = 9 }]));
        Assert.Null(conflict.RestorePoint(numel: 30).Restore);
    }

    [Fact]
    public void AnOwnCompleteRoundSupersedesAdoptedCopies()
    {
        var ledger = new ReplicaLedger();
        ledger.Adopt(new ReplicaInventory("a:2", [Held(0), Held(1), Held(2)]));
        World(1_000_001, ["a:2", "b:1"], ledger);
        Round(ledger, 1_000_001, 7, 2);

        var (restore, _) = ledger.RestorePoint(numel: 30);

        Assert.Equal((1_000_001L, 7L), (restore!.SourceEpoch, restore.Step));
        Assert.DoesNotContain(new ReplicaStep(1, 6), ledger.Retained);
    }
}
