using Forge.Actors.Protocol;
using Forge.Model.Optim;

namespace Forge.Actors.Supervision;

/// <summary>
/// Where the job's buddy replicas are, free of actors: for each replicated step, which processes hold a
/// complete copy of each shard (its owner's, and its buddy's: a rank's or a memory-only holder's). It answers the supervisor's three questions: who is each rank's buddy
/// (<see cref="Buddies"/>), whether a copy is still being made (<see cref="InFlight"/>: the next one is deferred, so
/// at most two copies of a shard exist), and the newest step a re-formed world can restore from memory
/// (<see cref="RestorePoint"/>: every shard has a copy in a live process). Holders are replica endpoints,
/// one per process; a process that is lost takes every copy it held with it.
/// </summary>
public sealed class ReplicaLedger
{
    private readonly Dictionary<long, WorldHolders> _worlds = [];
    private readonly Dictionary<ReplicaStep, StepCopies> _steps = [];
    private readonly HashSet<string> _lost = [];
    private readonly Dictionary<ReplicaStep, Dictionary<int, AdoptedCopy>> _adopted = [];
    private long _sequence;

    /// <summary>
    /// Each rank's buddy, as a replica endpoint: the first rank after it (cyclically) in another machine (endpoint
    /// host), else a memory-only holder (<paramref name="holders"/>: processes that keep copies and train nothing) in
    /// another machine, else the first rank in another process, else a holder in another process, else none. So copies
    /// spread around the world like a ring and survive their owner's machine where the world spans machines; holders
    /// serve worlds that have no other process, such as one GPU with a buddy process beside it. Ranks that fall back
    /// on holders are spread over them by rank. A rank without an endpoint has no buddy.
    /// Linear in the world size (holders are few): asked at every round, and a scan of every later rank per rank was O(W²).
    /// </summary>
    public static string?[] Buddies(IReadOnlyList<string> endpoints, IReadOnlyList<string>? holders = null)
    {
        holders ??= [];
        // Only ranks with an endpoint take part: their indices, in rank order.
        var members = Enumerable.Range(0, endpoints.Count).Where(r => endpoints[r].Length > 0).ToArray();
        var otherMachine = NextDifferent(members, r => Host(endpoints[r]));
        var otherProcess = NextDifferent(members, r => endpoints[r]);
        var buddies = new string?[endpoints.Count];
        for (var k = 0; k < members.Length; k++)
        {
            var rank = members[k];
            var own = endpoints[rank];
            buddies[rank] = (otherMachine[k] is { } machine ? endpoints[machine] : null)
                            ?? Holder(holders, rank, e => Host(e) != Host(own))
                            ?? (otherProcess[k] is { } process ? endpoints[process] : null)
                            ?? Holder(holders, rank, e => e != own);
        }
        return buddies;
    }

    /// <summary>The first holder from position <paramref name="rank"/> on (cyclically) that <paramref name="fits"/>: ranks spread over the holders.</summary>
    private static string? Holder(IReadOnlyList<string> holders, int rank, Func<string, bool> fits)
    {
        for (var k = 0; k < holders.Count; k++)
            if (holders[(rank + k) % holders.Count] is { Length: > 0 } holder && fits(holder)) return holder;
        return null;
    }

    /// <summary>
    /// For each of `members` (taken cyclically), the first later member whose key differs from its own, or null.
    /// Scanned backwards over the sequence written twice: a member whose successor has the same key has that
    /// successor's answer.
    /// </summary>
    private static int?[] NextDifferent(int[] members, Func<int, string> key)
    {
        var count = members.Length;
        var keys = members.Select(key).ToArray();
        var next = new int[2 * count];   // position in the doubled sequence, or int.MaxValue for none
        if (count > 0) next[2 * count - 1] = int.MaxValue;
        for (var p = 2 * count - 2; p >= 0; p--)
            next[p] = keys[(p + 1) % count] != keys[p % count] ? p + 1 : next[p + 1];
        // Beyond one lap the sequence repeats itself: a difference found there is none.
        return Enumerable.Range(0, count).Select(k => next[k] - k < count ? members[next[k] % count] : (int?)null).ToArray();
    }

    /// <summary>A world formed: its ranks' replica endpoints (empty: none). Copies of older worlds stay restorable.</summary>
    public void BeginWorld(long epoch, IReadOnlyList<string> endpoints)
    {
        _worlds[epoch] = new WorldHolders(endpoints.ToArray());
        DropUnfinished();
    }

    /// <summary>
    /// A round of copies of `step` started, at data cursor `samplesConsumed`, each rank sending to `buddies[rank]`
    /// (<see cref="Buddies"/>); an unfinished earlier round is given up.
    /// </summary>
    public void Started(ReplicaStep step, long samplesConsumed, IReadOnlyList<string?> buddies)
    {
        DropUnfinished();
        var world = _worlds[step.WorldEpoch];
        _steps[step] = new StepCopies(++_sequence, samplesConsumed, world.Endpoints.Length, buddies.ToArray());
    }

    /// <summary>Rank `rank` reported its copy of `step` complete in its own process and its buddy's.</summary>
    public void Replicated(ReplicaStep step, int rank)
    {
        if (!_steps.TryGetValue(step, out var copies) || rank < 0 || rank >= copies.Holders.Length || copies.Holders[rank] is not null) return;
        var world = _worlds[step.WorldEpoch];
        copies.Holders[rank] = new[] { world.Endpoints[rank], copies.Buddies[rank] ?? "" }
            .Where(e => e.Length > 0 && !_lost.Contains(e)).ToHashSet();
        copies.Reported++;
        if (!copies.Complete) return;
        // The newest complete round supersedes every other: no store needs an older copy again.
        foreach (var older in _steps.Where(s => s.Value != copies).Select(s => s.Key).ToArray()) _steps.Remove(older);
        foreach (var epoch in _worlds.Keys.Where(e => e < step.WorldEpoch).ToArray()) _worlds.Remove(epoch);
        _adopted.Clear();
    }

    /// <summary>
    /// Copies a registering rank's process holds, made under another supervisor (this one took the job over):
    /// they count towards <see cref="RestorePoint"/> once their ranges cover the whole layout.
    /// </summary>
    public void Adopt(ReplicaInventory inventory)
    {
        if (inventory.Endpoint.Length == 0 || _lost.Contains(inventory.Endpoint)) return;
        foreach (var held in inventory.Copies)
        {
            var step = new ReplicaStep(held.WorldEpoch, held.Step);
            if (!_adopted.TryGetValue(step, out var shards)) _adopted[step] = shards = [];
            if (!shards.TryGetValue(held.OwnerRank, out var copy)) shards[held.OwnerRank] = copy = new AdoptedCopy(held, []);
            // The same shard reported with another range or cursor is not the same copy: keep neither.
            if (copy.Held != held) copy.Conflict = true;
            copy.Holders.Add(inventory.Endpoint);
        }
    }

    /// <summary>Rank `rank` could not make its copy of `step`: the round never completes, older copies stay.</summary>
    public void Failed(ReplicaStep step, int rank)
    {
        if (_steps.TryGetValue(step, out var copies)) copies.Failed = true;
    }

    /// <summary>The process at `endpoint` is gone, and every copy it held.</summary>
    public void Lose(string endpoint)
    {
        if (endpoint.Length == 0 || !_lost.Add(endpoint)) return;
        foreach (var copies in _steps.Values)
            foreach (var holders in copies.Holders)
                holders?.Remove(endpoint);
        foreach (var shards in _adopted.Values)
            foreach (var copy in shards.Values)
                copy.Holders.Remove(endpoint);
    }

    /// <summary>True while a round has started and neither completed nor failed: the next one is deferred until it ends.</summary>
    public bool InFlight => _steps.Values.Any(c => !c.Complete && !c.Failed);

    /// <summary>The newest step (steps done) of which every shard has a complete copy, or null: a failure now restores it, or an older one.</summary>
    public long? NewestCopiedStep => _steps.Where(s => s.Value.Complete).Select(s => (long?)s.Key.Step).Max();

    /// <summary>The steps whose copies replica stores must keep (the newest complete round's); anything else may go.</summary>
    public IReadOnlyList<ReplicaStep> Retained => _steps.Where(s => s.Value.Complete).Select(s => s.Key).Concat(_adopted.Keys).ToArray();

    /// <summary>
    /// The newest step at which every shard has a copy in a live process, as a restore for the ranks, or null
    /// with the reason (for the journal) when there is none.
    /// </summary>
    public (MemoryRestore? Restore, string Reason) RestorePoint(long numel)
    {
        var complete = _steps.Where(s => s.Value.Complete).OrderByDescending(s => s.Value.Sequence).ToList();
        if (complete.Count == 0) return AdoptedRestorePoint(numel) is { } adopted ? (adopted, "") : (null, "no step has a copy of every shard in memory yet");
        var reasons = new List<string>();
        foreach (var (step, copies) in complete)
        {
            var world = _worlds[step.WorldEpoch];
            var gone = Enumerable.Range(0, copies.Holders.Length).Where(r => copies.Holders[r]!.Count == 0).ToArray();
            if (gone.Length == 0)
            {
                var sources = copies.Holders.Select((holders, rank) =>
                    // The owner's own process first: it is where a survivor's shard already is.
                    new ReplicaSource(rank, holders!.Contains(world.Endpoints[rank]) ? world.Endpoints[rank] : holders!.Order(StringComparer.Ordinal).First())).ToArray();
                return (new MemoryRestore(step.WorldEpoch, step.Step, copies.SamplesConsumed, copies.Holders.Length, numel, sources), "");
            }
            reasons.Add($"step {step.Step}: the shard of rank {string.Join(", ", gone)} and its copy are both gone");
        }
        return (null, string.Join("; ", reasons));
    }

    /// <summary>
    /// The newest adopted step with a live copy of every shard of its world, or null. Its world had as many ranks
    /// as there are owner ranks, and every copy must be that rank's <see cref="ShardRange"/> of a layout of
    /// <paramref name="numel"/> elements: a missing rank or a stray range means a shard is gone.
    /// </summary>
    private MemoryRestore? AdoptedRestorePoint(long numel)
    {
        if (numel <= 0) return null;
        foreach (var (step, shards) in _adopted.OrderByDescending(a => a.Key.Step).ThenByDescending(a => a.Key.WorldEpoch))
        {
            var size = shards.Count;
            var cursor = shards.Values.First().Held.SamplesConsumed;
            var whole = Enumerable.Range(0, size).All(rank =>
                shards.TryGetValue(rank, out var copy) && !copy.Conflict && copy.Holders.Count > 0 && copy.Held.SamplesConsumed == cursor
                && ShardRange.For(numel, rank, size) is var range && copy.Held.Start == range.Start
                && copy.Held.Length >= range.StoredLength(numel) && copy.Held.Length <= range.Length);
            if (!whole) continue;
            var sources = Enumerable.Range(0, size).Select(r => new ReplicaSource(r, shards[r].Holders.Order(StringComparer.Ordinal).First())).ToArray();
            return new MemoryRestore(step.WorldEpoch, step.Step, cursor, size, numel, sources);
        }
        return null;
    }

    /// <summary>Forgets every copy (the job restored a durable checkpoint newer than them, or the copies failed a restore).</summary>
    public void Forget()
    {
        _adopted.Clear();
        _steps.Clear();
        foreach (var epoch in _worlds.Keys.Where(e => e < _worlds.Keys.DefaultIfEmpty().Max()).ToArray()) _worlds.Remove(epoch);
    }

    private void DropUnfinished()
    {
        foreach (var step in _steps.Where(s => !s.Value.Complete).Select(s => s.Key).ToArray()) _steps.Remove(step);
    }

    private static string Host(string endpoint) => endpoint[..Math.Max(0, endpoint.LastIndexOf(':'))];

    private sealed record WorldHolders(string[] Endpoints);

    private sealed class AdoptedCopy(HeldCopy held, HashSet<string> holders)
    {
        public HeldCopy Held { get; } = held;
        public HashSet<string> Holders { get; } = holders;
        public bool Conflict { get; set; }
    }

    private sealed class StepCopies(long sequence, long samplesConsumed, int worldSize, string?[] buddies)
    {
        /// <summary>Where each rank of the round sends its copy.</summary>
        public string?[] Buddies { get; } = buddies;
        public long Sequence { get; } = sequence;
        public long SamplesConsumed { get; } = samplesConsumed;
        /// <summary>Per rank of the step's world: the live processes holding its copy, or null until the rank reported.</summary>
        public HashSet<string>?[] Holders { get; } = new HashSet<string>?[worldSize];
        /// <summary>How many of <see cref="Holders"/> are set: every rank's report asks whether the round is complete.</summary>
        public int Reported { get; set; }
        public bool Failed { get; set; }
        public bool Complete => Reported == Holders.Length;
    }
}
