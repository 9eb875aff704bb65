using System.Collections.Concurrent;
using Forge.Actors.Checkpointing;
using Forge.Model.Optim;

namespace Forge.Actors.Tests.Ranks.Fakes;

/// <summary>
/// An in-memory checkpoint store with the real store's contract: shards by (job, step, rank),
/// manifests count only once committed, and LoadRangeAsync reshards across any saving world.
/// </summary>
public sealed class FakeCheckpointStore : ICheckpointStore
{
    private readonly ConcurrentDictionary<(string Job, long Step, int Rank), OptimizerShard> _shards = new();
    private readonly List<CheckpointManifest> _manifests = [];

    /// <summary>Refuse manifests naming shards never saved here (off when probes stand in for ranks).</summary>
    public bool RequireSavedShards { get; init; } = true;

    /// <summary>When set, shard writes wait for it: lets a test hold a save "in the background".</summary>
    public TaskCompletionSource? SaveGate { get; set; }
    public ConcurrentQueue<(long Start, long Length)> Loads { get; } = new();
    /// <summary>When set and it returns an exception for a manifest, loading from that manifest throws it (a damaged checkpoint).</summary>
    public Func<CheckpointManifest, Exception?>? LoadFault { get; set; }
    public ConcurrentQueue<(long Step, int Rank)> Saves { get; } = new();
    public int SaveThreadCount => SaveThreads.Count;
    public ConcurrentBag<int> SaveThreads { get; } = [];

    public IReadOnlyList<CheckpointManifest> Committed
    {
        get { lock (_manifests) return _manifests.ToArray(); }
    }

    public async Task<ShardReceipt> SaveShardAsync(string jobId, long step, int rank, OptimizerShard shard, CancellationToken ct = default)
    {
        SaveThreads.Add(Environment.CurrentManagedThreadId);
        if (SaveGate is { } gate) await gate.Task.WaitAsync(ct);
        _shards[(jobId, step, rank)] = shard;
        Saves.Enqueue((step, rank));
        return new ShardReceipt(rank, shard.Start, shard.Length, [new ChunkInfo(0, shard.Length * 12, $"fake-{step}-{rank}")]);
    }

    public Task CommitAsync(CheckpointManifest manifest, CancellationToken ct = default)
    {
        foreach (var receipt in manifest.Shards)
            if (RequireSavedShards && !_shards.ContainsKey((manifest.JobId, manifest.Step, receipt.Rank)))
                throw new InvalidOperationException($"manifest of step {manifest.Step} names rank {receipt.Rank}'s shard, which was never saved");
        lock (_manifests) _manifests.Add(manifest);
        return Task.CompletedTask;
    }

    public Task<CheckpointManifest?> LatestAsync(string jobId, CancellationToken ct = default)
    {
        lock (_manifests) return Task.FromResult(_manifests.Where(m => m.JobId == jobId).MaxBy(m => m.Step));
    }

    public Task<IReadOnlyList<CheckpointManifest>> ListAsync(string jobId, CancellationToken ct = default)
    {
        lock (_manifests) return Task.FromResult<IReadOnlyList<CheckpointManifest>>(_manifests.Where(m => m.JobId == jobId).OrderBy(m => m.Step).ToArray());
    }

    public Task<OptimizerShard> LoadRangeAsync(CheckpointManifest manifest, long start, long length, CancellationToken ct = default)
    {
        Loads.Enqueue((start, length));
        if (LoadFault?.Invoke(manifest) is { } fault) return Task.FromException<OptimizerShard>(fault);
        var master = new float[length];
        var avg = new float[length];
        var sq = new float[length];
        long step = 0;
        foreach (var receipt in manifest.Shards)
        {
            var shard = _shards[(manifest.JobId, manifest.Step, receipt.Rank)];
            step = shard.Step;
            var from = Math.Max(start, shard.Start);
            var to = Math.Min(start + length, shard.Start + shard.Length);
            for (var i = from; i < to; i++)
            {
                master[i - start] = shard.Master[i - shard.Start];
                avg[i - start] = shard.ExpAvg[i - shard.Start];
                sq[i - start] = shard.ExpAvgSq[i - shard.Start];
            }
        }
        return Task.FromResult(new OptimizerShard(start, length, master, avg, sq, step));
    }
    private readonly ConcurrentDictionary<string, JobRecord> _records = new();
    private readonly ConcurrentQueue<(string Job, string Json)> _events = new();

    /// <summary>Names the store in refusals; two fakes with different names are two stores.</summary>
    public string Location { get; init; } = "the fake store";

    public Task<IReadOnlyList<string>> MissingChunksAsync(CheckpointManifest manifest, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<string>>(manifest.Shards
            .Where(r => RequireSavedShards && !_shards.ContainsKey((manifest.JobId, manifest.Step, r.Rank)))
            .Select(r => $"rank {r.Rank} chunk 0: not in {Location}").ToArray());

    public Task WriteJobRecordAsync(JobRecord record, CancellationToken ct = default)
    {
        _records[record.JobId] = record;
        return Task.CompletedTask;
    }

    public Task<JobRecord?> ReadJobRecordAsync(string jobId, CancellationToken ct = default) =>
        Task.FromResult(_records.TryGetValue(jobId, out var record) ? record : null);

    public Task AppendEventAsync(string jobId, string json, CancellationToken ct = default)
    {
        _events.Enqueue((jobId, json));
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> ReadEventsAsync(string jobId, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<string>>(_events.Where(e => e.Job == jobId).Select(e => e.Json).ToArray());
}
