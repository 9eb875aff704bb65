using Forge.Model.Optim;
using Forge.Model.Safetensors;
using Forge.Model.Training;
using static TorchSharp.torch;

namespace Forge.Actors.Checkpointing.Export;

/// <summary>
/// Seeds a run from a safetensors file (`forge checkpoints import`; a partial start is
/// `checkpoint.load_path`, see Forge.Model.Pretrained): fills one rank's range of the flat
/// layout with the file's weights (any float dtype, widened to fp32) and a fresh optimizer (zero
/// moments, step 0). Every layout parameter must be in the file with its shape, and the file may
/// hold nothing else, so a file for another model never half-loads.
/// </summary>
public static class SafetensorsShardImport
{
    public static OptimizerShard LoadShard(string path, FlatLayoutInfo layout, ShardRange range)
    {
        using var reader = new SafetensorsReader(path);
        CheckMatches(reader, layout, path);
        var n = checked((int)range.Length);
        var master = new float[n];
        foreach (var p in layout.Parameters)
        {
            var from = Math.Max(p.Offset, range.Start);
            var to = Math.Min(p.Offset + p.Numel, range.End);
            if (from >= to) continue;
            using var scope = NewDisposeScope();
            var flat = reader.Read(p.Name).to(ScalarType.Float32).reshape(-1);
            var values = flat.narrow(0, from - p.Offset, to - from).contiguous().data<float>().ToArray();
            values.CopyTo(master, checked((int)(from - range.Start)));
        }
        return new OptimizerShard(range.Start, range.Length, master, new float[n], new float[n], Step: 0);
    }

    private static void CheckMatches(SafetensorsReader reader, FlatLayoutInfo layout, string path)
    {
        var problems = new List<string>();
        var wanted = layout.Parameters.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var p in layout.Parameters)
        {
            if (!reader.Contains(p.Name)) { problems.Add($"missing '{p.Name}' [{string.Join(", ", p.Shape)}]"); continue; }
            var entry = reader.Entry(p.Name);
            if (!entry.Shape.SequenceEqual(p.Shape))
                problems.Add($"'{p.Name}' is {entry.ShapeText} in the file, [{string.Join(", ", p.Shape)}] in the model");
            else if (entry.DType is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64))
                problems.Add($"'{p.Name}' has dtype {entry.DType}; expected a floating-point tensor");
        }
        problems.AddRange(reader.Entries.Where(e => !wanted.Contains(e.Name)).Select(e => $"unexpected '{e.Name}'").Order(StringComparer.Ordinal));
        if (problems.Count > 0)
            throw new InvalidDataException($"{path} does not match the model's {layout.Parameters.Count} parameters: {string.Join("; ", problems)}");
    }
}
