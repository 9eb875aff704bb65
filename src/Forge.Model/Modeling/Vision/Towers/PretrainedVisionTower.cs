using Forge.Model.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Vision.Towers;

/// <summary>
/// A Hugging Face vision tower written here with HF's parameter names (those below <c>vision_model.</c>),
/// loaded from the model directory <c>vision_encoder.path</c>. Its output is KempnerForge's: the
/// last hidden state, one feature per patch.
/// </summary>
public abstract class PretrainedVisionTower(string name, string directory, HfVisionTowerConfig config) : VisionEncoder(name)
{
    private const string Prefix = "vision_model.";

    public string Directory { get; } = directory;
    public HfVisionTowerConfig TowerConfig { get; } = config;

    public override int NumTokens => TowerConfig.Patches;
    public override int FeatureDim => TowerConfig.HiddenSize;

    /// <summary>
    /// Tensors of the tower the output does not depend on (SigLIP's pooling head, the post-norm
    /// CLIP applies only to its pooled CLS token), by their name inside the tower.
    /// </summary>
    protected abstract bool IsUnused(string localName);

    /// <summary>
    /// The name inside the tower of a file tensor, or null for one of another part of an image-text
    /// model (text tower, projections, logit scale). A full SigLIP/CLIP model and older vision-only
    /// saves prefix the tower with vision_model.; transformers 5's vision-only saves do not.
    /// </summary>
    private static string? LocalName(string fileName)
    {
        if (fileName.StartsWith(Prefix, StringComparison.Ordinal)) return fileName[Prefix.Length..];
        if (fileName.StartsWith("text_model.", StringComparison.Ordinal) || fileName is "logit_scale" or "logit_bias"
            || fileName.StartsWith("visual_projection.", StringComparison.Ordinal) || fileName.StartsWith("text_projection.", StringComparison.Ordinal))
            return null;
        return fileName;
    }

    /// <summary>
    /// Copies the directory's weights into the tower. Every tower parameter must be there with its
    /// shape, and every vision tensor there must be a tower parameter or a known unused one, so a
    /// checkpoint of another size or family is an error naming the tensor.
    /// </summary>
    public void LoadPretrained()
    {
        using var checkpoint = SafetensorsCheckpoint.Open(Directory);
        var parameters = named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        var problems = new List<string>();
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        var misShaped = new HashSet<string>(StringComparer.Ordinal);
        foreach (var fileName in checkpoint.Names)
        {
            var local = LocalName(fileName);
            if (local is null || IsUnused(local)) continue;
            if (!parameters.TryGetValue(local, out var p))
            {
                problems.Add($"tensor '{fileName}' is not a parameter of this {GetType().Name}");
                continue;
            }
            var entry = checkpoint.Entry(fileName);
            if (!entry.Shape.SequenceEqual(p.shape))
            {
                problems.Add($"tensor '{fileName}' is {entry.ShapeText} in the file but [{string.Join(", ", p.shape)}] in the tower built from config.json");
                misShaped.Add(local);
            }
            else sources[local] = fileName;
        }
        problems.AddRange(parameters.Keys.Where(n => !sources.ContainsKey(n) && !misShaped.Contains(n)).Select(n => $"no tensor '{n}' (or '{Prefix}{n}') in the file"));
        if (problems.Count > 0)
            throw new InvalidDataException($"{checkpoint.Path} does not fit the {GetType().Name}: {string.Join("; ", problems)}");

        using var noGrad = no_grad();
        foreach (var (local, fileName) in sources)
        {
            using var scope = NewDisposeScope();
            parameters[local].copy_(checkpoint.Read(fileName).to(parameters[local].dtype, parameters[local].device));
        }
    }

    protected void CheckImageSize(Tensor images)
    {
        if (images.shape[2] != TowerConfig.ImageSize || images.shape[3] != TowerConfig.ImageSize)
            throw new ArgumentException($"images are {images.shape[2]}x{images.shape[3]} but the tower at {Directory} takes {TowerConfig.ImageSize}x{TowerConfig.ImageSize} (data.image_size comes from its preprocessor_config.json)");
    }
}
