using Forge.Actors.Protocol;
using Forge.Model.Optim;

namespace Forge.Actors.Replication;

/// <summary>
/// The process's buddy replicas in host memory: its own ranks' copies and the copies its buddies sent.
/// Thread-safe. Memory is bounded twice over: the supervisor names the steps it still needs with every
/// <see cref="ReplicateShard"/> (<see cref="Retain"/> drops the rest), and whatever arrives, a shard never
/// has more than <see cref="CopiesPerShard"/> copies here (the newest step every shard has, and the one
/// being made): a further copy evicts the oldest.
/// <para>
/// A received copy's arrays are rented from the store (<see cref="Rent"/>) and come back once the copy is freed,
/// to be written by the next copy: gigabytes of fresh pages per copy were a third of a copy's time on loopback
/// (the kernel faults in and zeroes every 4 KiB page). One spare set is kept per shard held, so memory stays at
/// two copies per shard plus the one being received.
/// </para>
/// </summary>
public sealed class ReplicaStore : IDisposable
{
    /// <summary>Copies of one shard (job, world, owner rank) kept at most: a double buffer.</summary>
    public const int CopiesPerShard = 2;

    private readonly Dictionary<ReplicaKey, ReplicaCopy> _copies = [];
    private readonly List<float[][]> _spare = [];

    /// <summary>Adds a complete copy (replacing one of the same key), evicting the shard's oldest beyond <see cref="CopiesPerShard"/>.</summary>
    public void Keep(ReplicaCopy copy)
    {
        var evicted = new List<ReplicaCopy>();
        lock (_copies)
        {
            if (_copies.Remove(copy.Key, out var replaced)) evicted.Add(replaced);
            _copies[copy.Key] = copy;
            var key = copy.Key;
            var sameShard = _copies.Keys
                .Where(k => k.JobId == key.JobId && k.WorldEpoch == key.WorldEpoch && k.OwnerRank == key.OwnerRank)
                .OrderBy(k => k.Step)
                .ToList();
            foreach (var old in sameShard.Take(Math.Max(0, sameShard.Count - CopiesPerShard)))
                if (_copies.Remove(old, out var dropped)) evicted.Add(dropped);
        }
        foreach (var dropped in evicted) dropped.Dispose();
    }

    /// <summary>
    /// The copy named <paramref name="key"/>, with a reader's reference that keeps its arrays from being reused:
    /// the caller must <see cref="ReplicaCopy.Release"/> it when done reading.
    /// </summary>
    public bool TryAcquire(ReplicaKey key, out ReplicaCopy copy)
    {
        lock (_copies) return _copies.TryGetValue(key, out copy!) && copy.TryAcquire();
    }

    /// <summary>Three arrays of <paramref name="length"/> floats for a copy being received: a freed copy's, else new ones.</summary>
    public float[][] Rent(long length)
    {
        lock (_copies)
        {
            var index = _spare.FindIndex(arrays => arrays[0].LongLength == length);
            if (index >= 0)
            {
                var arrays = _spare[index];
                _spare.RemoveAt(index);
                return arrays;
            }
        }
        return NewArrays(length);
    }

    /// <summary>Three new (uninitialised) arrays of <paramref name="length"/> floats: a copy's master and moments.</summary>
    public static float[][] NewArrays(long length) =>
        Enumerable.Range(0, 3).Select(_ => GC.AllocateUninitializedArray<float>(checked((int)length))).ToArray();

    /// <summary>The lease of a received copy whose arrays came from <see cref="Rent"/>: freeing the copy returns them.</summary>
    public IDisposable ReturnWhenFreed(OptimizerShard shard) => new Spare(this, [shard.Master, shard.ExpAvg, shard.ExpAvgSq]);

    private void Return(float[][] arrays)
    {
        lock (_copies)
        {
            // One spare set per shard held: enough for every shard's next copy, never more.
            var shards = _copies.Keys.Select(k => (k.JobId, k.WorldEpoch, k.OwnerRank)).Distinct().Count();
            if (_spare.Count < Math.Max(1, shards)) _spare.Add(arrays);
        }
    }

    private sealed class Spare(ReplicaStore store, float[][] arrays) : IDisposable
    {
        public void Dispose() => store.Return(arrays);
    }

    /// <summary>Drops every copy of job <paramref name="jobId"/> whose (world, step) is not in <paramref name="keep"/>.</summary>
    public void Retain(string jobId, IEnumerable<ReplicaStep> keep)
    {
        var wanted = keep.ToHashSet();
        List<ReplicaCopy> dropped;
        lock (_copies)
        {
            dropped = _copies.Values.Where(c => c.Key.JobId == jobId && !wanted.Contains(new ReplicaStep(c.Key.WorldEpoch, c.Key.Step))).ToList();
            foreach (var copy in dropped) _copies.Remove(copy.Key);
        }
        foreach (var copy in dropped) copy.Dispose();
    }

    /// <summary>The copies held now, by key.</summary>
    public IReadOnlyList<ReplicaKey> Keys
    {
        get { lock (_copies) return _copies.Keys.ToList(); }
    }

    /// <summary>The copies of job <paramref name="jobId"/> held now, with their ranges and data cursors.</summary>
    public IReadOnlyList<HeldCopy> Held(string jobId)
    {
        lock (_copies)
            return _copies.Values.Where(c => c.Key.JobId == jobId)
                .Select(c => new HeldCopy(c.Key.WorldEpoch, c.Key.Step, c.Key.OwnerRank, c.Shard.Start, c.Shard.Length, c.SamplesConsumed))
                .ToList();
    }

    /// <summary>Host memory the copies hold.</summary>
    public long Bytes
    {
        get { lock (_copies) return _copies.Values.Sum(c => c.Bytes); }
    }

    public void Dispose()
    {
        List<ReplicaCopy> all;
        lock (_copies)
        {
            all = _copies.Values.ToList();
            _copies.Clear();
        }
        foreach (var copy in all) copy.Dispose();
        lock (_copies) _spare.Clear();
    }
}
