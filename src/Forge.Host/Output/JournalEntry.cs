using System.Text.Json;

namespace Forge.Host.Output;

/// <summary>One line of events.jsonl: when, which event, and its other fields.</summary>
public sealed record JournalEntry(DateTimeOffset Time, string Event, IReadOnlyDictionary<string, JsonElement> Fields)
{
    public string? Text(string field) => Fields.TryGetValue(field, out var v) ? v.ToString() : null;

    public long? Integer(string field) => Fields.TryGetValue(field, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : null;

    public double? Number(string field) => Fields.TryGetValue(field, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    /// <summary>"step=120 stall_s=0.2": the fields other than time and event, for listings.</summary>
    public string Details() => string.Join("  ", Fields.Select(f => $"{f.Key}={f.Value}"));

    /// <summary>Reads events.jsonl, skipping a torn last line.</summary>
    public static IReadOnlyList<JournalEntry> ReadAll(string path)
    {
        if (!File.Exists(path)) return [];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line) lines.Add(line);
        return Parse(lines);
    }

    /// <summary>Journal lines (events.jsonl's, or the store's copy) as entries; a line that does not parse is skipped.</summary>
    public static IReadOnlyList<JournalEntry> Parse(IEnumerable<string> lines)
    {
        var entries = new List<JournalEntry>();
        foreach (var line in lines)
        {
            try
            {
                using var json = JsonDocument.Parse(line);
                var fields = new Dictionary<string, JsonElement>();
                DateTimeOffset time = default;
                var name = "";
                foreach (var p in json.RootElement.EnumerateObject())
                {
                    if (p.Name == "time") time = p.Value.GetDateTimeOffset();
                    else if (p.Name == "event") name = p.Value.GetString() ?? "";
                    else fields[p.Name] = p.Value.Clone();
                }
                entries.Add(new JournalEntry(time, name, fields));
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
            {
                // A line the process did not finish writing.
            }
        }
        return entries;
    }
}
