using System.Text.RegularExpressions;
using Forge.Model.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Pretrained;

/// <summary>
/// <c>checkpoint.load_path</c>: copies the weights a checkpoint holds into a freshly initialised
/// model and leaves the rest at their init, so a text-only checkpoint loads into a cross-attention
/// model and its zero-initialised CA blocks stay the identity. The checkpoint is a safetensors
/// file or an HF model directory, named in this project's parameter names (a `forge checkpoints
/// export`) or in LlamaForCausalLM's (mapped by <see cref="HfLlamaNames"/>; a missing lm_head with
/// tied embeddings loads the head from the embedding). Every file tensor must land on a model
/// parameter of its shape: a name or shape mismatch is an error naming the tensor, unless an
/// exclude pattern (<c>checkpoint.exclude_from_loading</c>) skips it.
/// </summary>
public static class PretrainedWeights
{
    /// <summary>
    /// Which parameter comes from which file tensor, without reading any tensor data. Exclude
    /// patterns match a file name or a model name: exactly, as a dotted prefix, or as a glob (* and ?).
    /// </summary>
    /// <exception cref="InvalidDataException">Every mismatched tensor, each by name.</exception>
    public static (WeightLoadReport Report, IReadOnlyDictionary<string, string> SourceOf) Plan(
        IReadOnlyList<(string Name, long[] Shape)> parameters, SafetensorsCheckpoint checkpoint, IReadOnlyList<string> exclude)
    {
        var shapes = parameters.ToDictionary(p => p.Name, p => p.Shape, StringComparer.Ordinal);
        var excluded = exclude.Select(Matcher).ToList();
        bool IsExcluded(string name) => excluded.Any(m => m(name));

        var names = checkpoint.Names;
        var hf = HfLlamaNames.AreHfLlama(names);
        var sourceOf = new Dictionary<string, string>(StringComparer.Ordinal);
        var skipped = new List<string>();
        var problems = new List<string>();
        foreach (var fileName in names)
        {
            var modelName = hf ? HfLlamaNames.ToForge(fileName) : fileName;
            if (IsExcluded(fileName) || (modelName is not null && IsExcluded(modelName)))
            {
                skipped.Add(fileName);
                continue;
            }
            if (hf && HfLlamaNames.IsDerivedBuffer(fileName))
            {
                skipped.Add(fileName);
                continue;
            }
            var entry = checkpoint.Entry(fileName);
            if (modelName is null || !shapes.TryGetValue(modelName, out var shape))
            {
                problems.Add(modelName is null
                    ? $"tensor '{fileName}' {entry.ShapeText}: not a LlamaForCausalLM text-model name this decoder has"
                    : $"tensor '{fileName}' {entry.ShapeText}: the model has no parameter of that name");
                continue;
            }
            if (!entry.Shape.SequenceEqual(shape))
            {
                problems.Add($"tensor '{fileName}' is {entry.ShapeText} in the file but '{modelName}' is [{string.Join(", ", shape)}] in the model");
                continue;
            }
            if (!IsFloat(entry.DType))
            {
                problems.Add($"tensor '{fileName}' has dtype {entry.DType}; a model parameter needs a floating-point tensor");
                continue;
            }
            sourceOf[modelName] = fileName;
        }

        var tied = false;
        if (hf && !checkpoint.Contains(HfLlamaNames.LmHead) && checkpoint.Contains(HfLlamaNames.EmbedTokens)
            && shapes.ContainsKey(HfLlamaNames.ForgeOutputHead) && !IsExcluded(HfLlamaNames.ForgeOutputHead) && !IsExcluded(HfLlamaNames.LmHead)
            && TiesEmbeddings(checkpoint) && sourceOf.ContainsKey("transformer.token_embedding.embedding.weight"))
        {
            sourceOf[HfLlamaNames.ForgeOutputHead] = HfLlamaNames.EmbedTokens;
            tied = true;
        }

        if (problems.Count > 0)
            throw new InvalidDataException(
                $"{checkpoint.Path} does not fit the model ({problems.Count} tensor(s)); list a tensor in checkpoint.exclude_from_loading to skip it: " +
                string.Join("; ", problems));

        var loaded = parameters.Select(p => p.Name).Where(sourceOf.ContainsKey).ToList();
        var kept = parameters.Select(p => p.Name).Where(n => !sourceOf.ContainsKey(n)).ToList();
        return (new WeightLoadReport(checkpoint.Path, loaded, kept, skipped, tied), sourceOf);
    }

    /// <summary>The plan for <paramref name="model"/>'s parameters and <paramref name="path"/>, tensors unread.</summary>
    public static WeightLoadReport Plan(nn.Module model, string path, IReadOnlyList<string> exclude)
    {
        using var checkpoint = SafetensorsCheckpoint.Open(path);
        return Plan(Shapes(model), checkpoint, exclude).Report;
    }

    /// <summary>Copies the planned tensors into <paramref name="model"/>'s parameters (cast to each parameter's dtype and device).</summary>
    public static WeightLoadReport Load(nn.Module model, string path, IReadOnlyList<string> exclude)
    {
        using var checkpoint = SafetensorsCheckpoint.Open(path);
        var (report, sourceOf) = Plan(Shapes(model), checkpoint, exclude);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (!sourceOf.TryGetValue(name, out var fileName)) continue;
            using var scope = NewDisposeScope();
            parameter.copy_(checkpoint.Read(fileName).to(parameter.dtype, parameter.device));
        }
        return report;
    }

    private static List<(string Name, long[] Shape)> Shapes(nn.Module model) =>
        model.named_parameters().Select(p => (p.name, p.parameter.shape)).ToList();

    private static bool TiesEmbeddings(SafetensorsCheckpoint checkpoint) =>
        checkpoint.Directory is not { } dir || !HfLlamaConfig.IsLlamaDirectory(dir) || HfLlamaConfig.Read(dir).TieWordEmbeddings;

    private static bool IsFloat(ScalarType t) => t is ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64;

    private static Func<string, bool> Matcher(string pattern)
    {
        if (pattern.Contains('*') || pattern.Contains('?'))
        {
            var regex = new Regex("^" + Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$", RegexOptions.CultureInvariant);
            return regex.IsMatch;
        }
        return name => name == pattern || name.StartsWith(pattern + ".", StringComparison.Ordinal);
    }
}
