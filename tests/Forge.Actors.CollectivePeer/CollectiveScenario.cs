using Forge.Model.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Actors.CollectivePeer;

/// <summary>
/// A fixed sequence of collectives with results every rank can predict from the rank numbers alone,
/// so ranks in different processes check each other without sharing memory. Sizes are uneven on
/// purpose (not multiples of the world size, and one smaller than it).
/// </summary>
public static class CollectiveScenario
{
    public static IReadOnlyList<string> Exchange(ICollectives group)
    {
        var failures = new List<string>();
        var w = group.WorldSize;
        var r = group.Rank;
        var triangle = w * (w + 1) / 2.0;

        foreach (var n in new long[] { 1, 7, 4099 })
        {
            using var t = arange(n, dtype: ScalarType.Float32) * (r + 1);
            group.AllReduceSum(t);
            using var expected = arange(n, dtype: ScalarType.Float32) * triangle;
            if (!t.allclose(expected, rtol: 0, atol: 0)) failures.Add($"rank {r}: all-reduce of {n} elements is wrong");
        }

        const long chunk = 5;
        using (var input = arange(w * chunk, dtype: ScalarType.Float32) + 100 * r)
        using (var output = zeros(chunk))
        {
            group.ReduceScatter(input, output);
            using var expected = (arange(chunk, dtype: ScalarType.Float32) + r * chunk) * w + 100 * (w * (w - 1) / 2.0);
            if (!output.allclose(expected, rtol: 0, atol: 0)) failures.Add($"rank {r}: reduce-scatter is wrong");
        }

        using (var input = full(chunk, (float)r))
        using (var output = zeros(w * chunk))
        {
            group.AllGather(input, output);
            using var expected = arange(w, dtype: ScalarType.Float32).repeat_interleave(chunk);
            if (!output.allclose(expected, rtol: 0, atol: 0)) failures.Add($"rank {r}: all-gather is wrong");
        }

        using (var t = r == w - 1 ? arange(11, dtype: ScalarType.Float32) : zeros(11))
        {
            group.Broadcast(t, root: w - 1);
            using var expected = arange(11, dtype: ScalarType.Float32);
            if (!t.allclose(expected, rtol: 0, atol: 0)) failures.Add($"rank {r}: broadcast is wrong");
        }
        return failures;
    }
}
