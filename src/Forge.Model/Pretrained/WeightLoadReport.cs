using System.Text.RegularExpressions;

namespace Forge.Model.Pretrained;

/// <summary>
/// What a <c>checkpoint.load_path</c> load did: the model parameters that came from the file, those
/// that kept their init (absent from the file, or excluded), and the file's tensors that were
/// skipped on purpose (<c>checkpoint.exclude_from_loading</c>, derived buffers).
/// </summary>
public sealed partial record WeightLoadReport(
    string Source,
    IReadOnlyList<string> Loaded,
    IReadOnlyList<string> KeptInit,
    IReadOnlyList<string> Skipped,
    bool TiedOutputHead)
{
    /// <summary>Lines for the run's output: a summary, then each list with layer indices folded (layers.{0-31}.attention.q_proj.weight).</summary>
    public IEnumerable<string> Lines()
    {
        yield return $"weights from {Source}: {Loaded.Count} parameter(s) loaded, {KeptInit.Count} kept their init, {Skipped.Count} file tensor(s) skipped";
        if (TiedOutputHead) yield return "  tied embeddings: transformer.output_head.proj.weight loaded from model.embed_tokens.weight";
        foreach (var (label, names) in new[] { ("loaded", Loaded), ("kept init", KeptInit), ("skipped", Skipped) })
            foreach (var name in Fold(names))
                yield return $"  {label}: {name}";
    }

    [GeneratedRegex(@"\.(\d+)\.")]
    private static partial Regex Index();

    /// <summary>Names that differ only in one numeric path component, as one line with the index ranges.</summary>
    public static IReadOnlyList<string> Fold(IEnumerable<string> names)
    {
        var groups = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var name in names)
        {
            var m = Index().Match(name);
            var key = m.Success ? name[..m.Index] + ".{}." + name[(m.Index + m.Length)..] : name;
            if (!groups.TryGetValue(key, out var indices))
            {
                groups[key] = indices = [];
                order.Add(key);
            }
            if (m.Success) indices.Add(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        }
        return order.Select(key => groups[key] is { Count: > 0 } indices ? key.Replace("{}", "{" + Ranges(indices) + "}") : key).ToList();
    }

    private static string Ranges(List<int> indices)
    {
        var sorted = indices.Distinct().Order().ToList();
        var parts = new List<string>();
        for (var i = 0; i < sorted.Count;)
        {
            var j = i;
            while (j + 1 < sorted.Count && sorted[j + 1] == sorted[j] + 1) j++;
            parts.Add(i == j ? $"{sorted[i]}" : $"{sorted[i]}-{sorted[j]}");
            i = j + 1;
        }
        return string.Join(",", parts);
    }
}
