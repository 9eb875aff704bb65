using Forge.Model.Optim;
using Forge.Model.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Actors.Checkpointing.Export;

/// <summary>
/// Writes the master weights of a committed checkpoint as one consolidated safetensors file, under
/// the model's parameter names and shapes from the manifest's flat layout, whatever world size
/// saved it. Optimizer moments are not exported: the file is a model, not a training state.
/// </summary>
public static class SafetensorsCheckpointExport
{
    // Parameters are read in bands of about this many elements: one LoadRange per band rather than
    // per parameter, so a chunk holding many small parameters is read once.
    private const long BandElements = 16L * 1024 * 1024;

    /// <param name="progress">Told the fraction of the weights read so far, after each band (a 1 B model reads for tens of seconds).</param>
    /// <param name="rename">
    /// The name each parameter is written under, or null to leave it out (another format's names,
    /// e.g. Hugging Face Llama's); by default every parameter under its own name.
    /// </param>
    /// <returns>The names written, in the file's names.</returns>
    public static async Task<IReadOnlyList<string>> ExportAsync(ICheckpointStore store, CheckpointManifest manifest, string path, ScalarType dtype, CancellationToken ct = default,
        IProgress<double>? progress = null, Func<string, string?>? rename = null)
    {
        if (dtype is not (ScalarType.BFloat16 or ScalarType.Float32))
            throw new ArgumentException($"safetensors export dtype {dtype}: expected BFloat16 or Float32");
        using var scope = NewDisposeScope();
        var tensors = new List<(string Name, Tensor Tensor)>(manifest.Layout.Parameters.Count);
        var total = Math.Max(1, manifest.Layout.Parameters.Sum(p => p.Numel));
        long done = 0;
        foreach (var band in Bands(manifest.Layout.Parameters))
        {
            var first = band[0].Offset;
            var end = band.Max(p => p.Offset + p.Numel);
            var state = await store.LoadRangeAsync(manifest, first, end - first, ct);
            foreach (var parameter in band)
            {
                done += parameter.Numel;
                var name = rename is null ? parameter.Name : rename(parameter.Name);
                if (name is null) continue;
                var values = state.Master.AsSpan(checked((int)(parameter.Offset - first)), checked((int)parameter.Numel)).ToArray();
                tensors.Add((name, tensor(values, parameter.Shape)));
            }
            progress?.Report((double)done / total);
        }
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["forge.job"] = manifest.JobId,
            ["forge.step"] = manifest.Step.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["forge.model_config_hash"] = manifest.ModelConfigHash,
        };
        SafetensorsWriter.Save(path, tensors, dtype, metadata);
        return tensors.Select(t => t.Name).ToList();
    }

    private static IEnumerable<List<FlatParameter>> Bands(IEnumerable<FlatParameter> parameters)
    {
        var band = new List<FlatParameter>();
        var bandStart = 0L;
        foreach (var p in parameters.OrderBy(p => p.Offset))
        {
            if (band.Count > 0 && p.Offset + p.Numel - bandStart > BandElements)
            {
                yield return band;
                band = [];
            }
            if (band.Count == 0) bandStart = p.Offset;
            band.Add(p);
        }
        if (band.Count > 0) yield return band;
    }
}
