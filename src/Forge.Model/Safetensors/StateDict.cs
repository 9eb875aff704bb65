using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Safetensors;

/// <summary>
/// Moves a module's parameters (by their dotted state-dict names, which follow KempnerForge's) to
/// and from safetensors files. Loading casts to each parameter's own dtype and device, so an fp32
/// or bf16 export loads into a model of either precision.
/// </summary>
public static class StateDict
{
    /// <summary>Writes every parameter of <paramref name="module"/>, cast to <paramref name="dtype"/> when given.</summary>
    public static void Save(nn.Module module, string path, ScalarType? dtype = null, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var tensors = module.named_parameters().Select(p => (p.name, (Tensor)p.parameter));
        SafetensorsWriter.Save(path, tensors, dtype, metadata);
    }

    /// <summary>
    /// Copies the file's tensors into the module's parameters. With <paramref name="strict"/> every
    /// parameter must be present and no extra tensor may be; shapes must always match. All problems
    /// are gathered and reported together before anything is copied.
    /// </summary>
    public static void Load(nn.Module module, string path, bool strict = true)
    {
        using var reader = new SafetensorsReader(path);
        var parameters = module.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);

        var missing = parameters.Keys.Where(n => !reader.Contains(n)).ToList();
        var unexpected = reader.Entries.Select(e => e.Name).Where(n => !parameters.ContainsKey(n)).OrderBy(n => n, StringComparer.Ordinal).ToList();
        var misShaped = new List<string>();
        foreach (var (name, p) in parameters)
        {
            if (!reader.Contains(name)) continue;
            var entry = reader.Entry(name);
            if (!entry.Shape.SequenceEqual(p.shape))
                misShaped.Add($"{name}: file {entry.ShapeText} vs model [{string.Join(", ", p.shape)}]");
        }
        if (misShaped.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0)))
            throw new StateDictMismatchException(path, strict ? missing : [], strict ? unexpected : [], misShaped);

        using var noGrad = no_grad();
        foreach (var (name, p) in parameters)
        {
            if (!reader.Contains(name)) continue;
            using var scope = NewDisposeScope();
            p.copy_(reader.Read(name).to(p.dtype, p.device));
        }
    }
}
