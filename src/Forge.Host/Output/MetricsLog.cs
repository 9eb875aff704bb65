using System.Text.Json;

namespace Forge.Host.Output;

/// <summary>
/// Reads metrics.jsonl back for `forge status` and `forge plot`. Two things a live or resumed
/// run leaves behind are expected, not errors: a torn last line (the process died mid-write) is
/// skipped, and a resume from an earlier checkpoint rewinds the log, so the re-run steps replace
/// the ones logged after that checkpoint.
/// </summary>
public static class MetricsLog
{
    public static IReadOnlyList<MetricsPoint> Read(string path)
    {
        var points = new List<MetricsPoint>();
        if (!File.Exists(path)) return points;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        long lastTrainStep = long.MinValue;
        while (reader.ReadLine() is { } line)
        {
            if (Parse(line) is not { } point) continue;
            if (point.Loss is not null)
            {
                if (point.Step <= lastTrainStep) points.RemoveAll(p => p.Step >= point.Step);
                lastTrainStep = point.Step;
            }
            points.Add(point);
        }
        return points;
    }

    private static MetricsPoint? Parse(string line)
    {
        if (string.IsNullOrWhiteSpace(line)) return null;
        try
        {
            using var json = JsonDocument.Parse(line);
            var o = json.RootElement;
            if (o.ValueKind != JsonValueKind.Object || !o.TryGetProperty("step", out var step)) return null;
            return new MetricsPoint(
                step.GetInt64(),
                Number(o, "loss"),
                Number(o, "eval_loss"),
                Number(o, "lr"),
                Number(o, "grad_norm"),
                Number(o, "tokens_per_s"),
                o.TryGetProperty("world_size", out var w) ? w.GetInt32() : null,
                Number(o, "wall_s"),
                Number(o, "eval_art_loss"),
                Number(o, "eval_exact_match"),
                Number(o, "eval_similarity"),
                Number(o, "eval_art_exact_match"),
                Number(o, "eval_art_similarity"));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Numbers, plus the "NaN"/"Infinity" strings the writer uses for non-finite values.</summary>
    private static double? Number(JsonElement o, string name)
    {
        if (!o.TryGetProperty(name, out var value)) return null;
        return value.ValueKind switch
        {
            JsonValueKind.Number => value.GetDouble(),
            JsonValueKind.String when double.TryParse(value.GetString(), System.Globalization.CultureInfo.InvariantCulture, out var d) => d,
            _ => null,
        };
    }
}
