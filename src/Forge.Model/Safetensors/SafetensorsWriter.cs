using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Safetensors;

/// <summary>
/// Writes tensors as one safetensors file, optionally casting floating-point tensors to one dtype
/// (bf16/fp16/fp32 export). Writes to a temporary file and renames, so a crash never leaves a
/// half-written file under the final name.
/// </summary>
public static class SafetensorsWriter
{
    public static void Save(
        string path,
        IEnumerable<(string Name, Tensor Tensor)> tensors,
        ScalarType? floatDType = null,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = tensors.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in items)
            if (!seen.Add(name)) throw new ArgumentException($"safetensors: tensor name '{name}' appears twice");

        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        var offset = 0L;
        var dtypes = new ScalarType[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            var (name, t) = items[i];
            dtypes[i] = floatDType is { } f && t.is_floating_point() ? f : t.dtype;
            var bytes = t.numel() * SafetensorsDType.SizeOf(dtypes[i]);
            header[name] = new
            {
                dtype = SafetensorsDType.CodeOf(dtypes[i]),
                shape = t.shape,
                data_offsets = new[] { offset, offset + bytes },
            };
            offset += bytes;
        }

        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        // Pad the header with spaces so the data section starts 8-byte aligned (what the reference writer does).
        var padded = (json.Length + 7) / 8 * 8;
        var headerBytes = new byte[padded];
        json.CopyTo(headerBytes, 0);
        headerBytes.AsSpan(json.Length).Fill((byte)' ');

        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, padded);
            stream.Write(length);
            stream.Write(headerBytes);
            for (var i = 0; i < items.Count; i++)
            {
                using var scope = NewDisposeScope();
                var t = items[i].Tensor.detach().to(dtypes[i], CPU).contiguous();
                t.WriteBytesToStream(stream);
            }
        }
        File.Move(temp, path, overwrite: true);
    }
}
