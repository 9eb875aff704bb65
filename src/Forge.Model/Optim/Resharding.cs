namespace Forge.Model.Optim;

/// <summary>
/// Cuts a new world's shard out of an old world's shards. Padding sits only at the end of the flat
/// vector, so element i means the same parameter value in every world size: a rank's new range is
/// the concatenation of the overlapping pieces of the old shards, with zeros past the real elements.
/// </summary>
public static class Resharding
{
    /// <summary>The shard [start, start + length) of a flat layout with <paramref name="numel"/> real elements.</summary>
    public static OptimizerShard Assemble(IReadOnlyList<OptimizerShard> sources, long start, long length, long numel)
    {
        if (sources.Count == 0) throw new ArgumentException("no optimizer shards to assemble from");
        var step = sources[0].Step;
        if (sources.Any(s => s.Step != step))
            throw new ArgumentException($"optimizer shards disagree on the step count: {string.Join(", ", sources.Select(s => $"[{s.Start}, +{s.Length}) at {s.Step}"))}");
        var master = new float[length];
        var expAvg = new float[length];
        var expAvgSq = new float[length];
        var covered = 0L;
        foreach (var source in sources)
        {
            var from = Math.Max(start, source.Start);
            var to = Math.Min(Math.Min(start + length, source.Start + source.Length), numel);
            if (to <= from) continue;
            var count = (int)(to - from);
            var src = (int)(from - source.Start);
            var dst = (int)(from - start);
            Array.Copy(source.Master, src, master, dst, count);
            Array.Copy(source.ExpAvg, src, expAvg, dst, count);
            Array.Copy(source.ExpAvgSq, src, expAvgSq, dst, count);
            covered += count;
        }
        var real = Math.Max(0, Math.Min(start + length, numel) - start);
        if (covered != real)
            throw new ArgumentException(
                $"optimizer shards cover {covered} of the {real} real elements in [{start}, {start + length}); " +
                $"shards given: {string.Join(", ", sources.Select(s => $"[{s.Start}, {s.Start + s.Length})"))}");
        return new OptimizerShard(start, length, master, expAvg, expAvgSq, step);
    }
}
