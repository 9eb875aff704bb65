using System.Text.Json;
using static TorchSharp.torch;

namespace Forge.Model.Safetensors;

/// <summary>
/// The tensors of a checkpoint that is one safetensors file or a Hugging Face model directory:
/// <c>model.safetensors</c>, or shards <c>model-*.safetensors</c> listed by
/// <c>model.safetensors.index.json</c>'s <c>weight_map</c>. Headers are read up front, tensors on
/// demand from whichever shard holds them.
/// </summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafetensorsReader> _readers = [];
    private readonly Dictionary<string, SafetensorsReader> _byName = new(StringComparer.Ordinal);

    /// <summary>The file or directory it was opened from.</summary>
    public string Path { get; }

    /// <summary>The directory holding config.json and friends, when opened from a directory.</summary>
    public string? Directory { get; }

    public IEnumerable<SafetensorsEntry> Entries => _byName.Select(kv => kv.Value.Entry(kv.Key));

    private SafetensorsCheckpoint(string path, string? directory)
    {
        Path = path;
        Directory = directory;
    }

    /// <exception cref="FileNotFoundException">Nothing at <paramref name="path"/>, or a directory without weights.</exception>
    /// <exception cref="InvalidDataException">A malformed file or index, a shard the index names that is missing, a tensor in two shards.</exception>
    public static SafetensorsCheckpoint Open(string path)
    {
        if (File.Exists(path))
        {
            var single = new SafetensorsCheckpoint(path, null);
            single.Add(new SafetensorsReader(path), only: null);
            return single;
        }
        if (!System.IO.Directory.Exists(path))
            throw new FileNotFoundException($"{path}: no such safetensors file or model directory", path);

        var checkpoint = new SafetensorsCheckpoint(path, path);
        try
        {
            var file = System.IO.Path.Combine(path, SingleFileName);
            var index = System.IO.Path.Combine(path, IndexFileName);
            if (File.Exists(file)) checkpoint.Add(new SafetensorsReader(file), only: null);
            else if (File.Exists(index)) checkpoint.AddShards(index);
            else
                throw new FileNotFoundException(
                    $"{path}: a model directory needs {SingleFileName} or {IndexFileName} with its model-*.safetensors shards; found neither", path);
            return checkpoint;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public SafetensorsEntry Entry(string name) =>
        _byName.TryGetValue(name, out var reader) ? reader.Entry(name) : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");

    /// <summary>The tensor as stored (its own dtype), on the CPU.</summary>
    public Tensor Read(string name) =>
        _byName.TryGetValue(name, out var reader) ? reader.Read(name) : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");

    /// <summary>Names in the checkpoint, sorted.</summary>
    public IReadOnlyList<string> Names => _byName.Keys.Order(StringComparer.Ordinal).ToList();

    private void AddShards(string indexPath)
    {
        Dictionary<string, string> weightMap;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{indexPath}: no \"weight_map\" object (tensor name -> shard file)");
            weightMap = map.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{indexPath}: not valid JSON: {e.Message}", e);
        }
        var directory = System.IO.Path.GetDirectoryName(indexPath)!;
        foreach (var group in weightMap.GroupBy(kv => kv.Value, StringComparer.Ordinal))
        {
            var shard = System.IO.Path.Combine(directory, group.Key);
            if (group.Key.Length == 0 || group.Key.Contains('/') || group.Key.Contains('\\') || !File.Exists(shard))
                throw new InvalidDataException($"{indexPath}: weight_map puts '{group.First().Key}' in shard '{group.Key}', which is not a file in {directory}");
            var reader = new SafetensorsReader(shard);
            var names = group.Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
            foreach (var name in names)
                if (!reader.Contains(name))
                {
                    reader.Dispose();
                    throw new InvalidDataException($"{indexPath}: weight_map puts '{name}' in {group.Key}, which has no such tensor");
                }
            Add(reader, names);
        }
    }

    private void Add(SafetensorsReader reader, HashSet<string>? only)
    {
        _readers.Add(reader);
        foreach (var entry in reader.Entries)
        {
            if (only is not null && !only.Contains(entry.Name)) continue;
            if (!_byName.TryAdd(entry.Name, reader))
                throw new InvalidDataException($"{Path}: tensor '{entry.Name}' is in both {_byName[entry.Name].Path} and {reader.Path}");
        }
    }

    public void Dispose()
    {
        foreach (var reader in _readers) reader.Dispose();
    }
}
