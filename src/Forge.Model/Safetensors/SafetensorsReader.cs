using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Safetensors;

/// <summary>
/// Reads a safetensors file (an 8-byte little-endian header length, a JSON header, then raw
/// little-endian tensor bytes). The header is parsed eagerly and validated, tensors are read on
/// demand straight into torch storage, so a multi-GB file never sits in managed memory whole.
/// </summary>
public sealed class SafetensorsReader : IDisposable
{
    // Guards against reading a random file as a header: real headers are far smaller.
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    private readonly FileStream _stream;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafetensorsEntry> _entries;

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IReadOnlyCollection<SafetensorsEntry> Entries => _entries.Values;

    public SafetensorsReader(string path)
    {
        Path = path;
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        try
        {
            (_entries, Metadata, _dataStart) = ReadHeader(_stream, path);
        }
        catch
        {
            _stream.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _entries.ContainsKey(name);

    public SafetensorsEntry Entry(string name) =>
        _entries.TryGetValue(name, out var e)
            ? e
            : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");

    /// <summary>The tensor as stored (its own dtype), on the CPU.</summary>
    public Tensor Read(string name)
    {
        var entry = Entry(name);
        var tensor = empty(entry.Shape, entry.DType, CPU);
        _stream.Seek(_dataStart + entry.Begin, SeekOrigin.Begin);
        tensor.ReadBytesFromStream(_stream);
        return tensor;
    }

    public void Dispose() => _stream.Dispose();

    private static (Dictionary<string, SafetensorsEntry>, IReadOnlyDictionary<string, string>, long) ReadHeader(FileStream stream, string path)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.Length < 8 || stream.Read(lengthBytes) != 8)
            throw new InvalidDataException($"{path}: too short to be a safetensors file ({stream.Length} bytes)");
        var headerLength = BinaryPrimitives.ReadInt64LittleEndian(lengthBytes);
        if (headerLength <= 0 || headerLength > MaxHeaderBytes || 8 + headerLength > stream.Length)
            throw new InvalidDataException($"{path}: header length {headerLength} is not plausible for a {stream.Length}-byte file; not a safetensors file?");

        var header = new byte[headerLength];
        stream.ReadExactly(header);
        var dataStart = 8 + headerLength;
        var dataLength = stream.Length - dataStart;

        using var doc = JsonDocument.Parse(header);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{path}: header is not a JSON object");

        var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (prop.Name == "__metadata__")
            {
                foreach (var m in prop.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                continue;
            }
            var entry = ParseEntry(prop, path);
            var bytes = entry.Numel * SafetensorsDType.SizeOf(entry.DType);
            if (entry.End - entry.Begin != bytes)
                throw new InvalidDataException($"{path}: tensor '{entry.Name}' {entry.DType}{entry.ShapeText} needs {bytes} bytes but data_offsets span {entry.End - entry.Begin}");
            if (entry.Begin < 0 || entry.End > dataLength)
                throw new InvalidDataException($"{path}: tensor '{entry.Name}' data_offsets [{entry.Begin}, {entry.End}] exceed the {dataLength}-byte data section (truncated file?)");
            entries.Add(entry.Name, entry);
        }
        return (entries, metadata, dataStart);
    }

    private static SafetensorsEntry ParseEntry(JsonProperty prop, string path)
    {
        try
        {
            var v = prop.Value;
            var dtype = SafetensorsDType.TypeOf(v.GetProperty("dtype").GetString() ?? "", prop.Name, path);
            var shape = v.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            var offsets = v.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            if (offsets.Length != 2) throw new InvalidDataException("data_offsets must hold two numbers");
            return new SafetensorsEntry(prop.Name, dtype, shape, offsets[0], offsets[1]);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: header entry '{prop.Name}' is malformed (needs dtype, shape, data_offsets): {e.Message}", e);
        }
    }
}
