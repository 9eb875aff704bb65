using Forge.Model.Config;
using Forge.Model.Modeling.Adapters;
using Forge.Model.Modeling.Architectures;
using Forge.Model.Modeling.Mot;
using Forge.Model.Modeling.Vision;
using Forge.Model.Modeling.Vision.Towers;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>
/// The one entry point that turns a job config into a model: looks `vlm.arch` up among the
/// registered architectures and builds encoder, adapter and decoder. A new arch is one
/// <see cref="IVlmArchitecture"/> and one <see cref="Register"/> call.
/// </summary>
public static class VlmRegistry
{
    private static readonly Dictionary<string, Func<IVlmArchitecture>> Architectures = new(StringComparer.Ordinal)
    {
        [CrossAttentionArchitecture.Name] = () => new CrossAttentionArchitecture(),
        [JointDecoderArchitecture.Name] = () => new JointDecoderArchitecture(),
        [MixtureOfTransformersArchitecture.Name] = () => new MixtureOfTransformersArchitecture(),
    };

    public static IReadOnlyCollection<string> Names
    {
        get { lock (Architectures) return Architectures.Keys.ToArray(); }
    }

    public static void Register(string name, Func<IVlmArchitecture> factory)
    {
        lock (Architectures) Architectures[name] = factory;
    }

    /// <summary>
    /// Builds the model on <paramref name="device"/> with parameters in <paramref name="computeDType"/>,
    /// initialised from train.seed (same config and seed give the same weights on every rank), and
    /// applies the freeze policy for step 0.
    /// </summary>
    public static VisionLanguageModel Build(JobConfig config, Device device, ScalarType computeDType)
    {
        Func<IVlmArchitecture>? factory;
        lock (Architectures) Architectures.TryGetValue(config.Vlm.Arch, out factory);
        if (factory is null)
            throw new ArgumentException($"vlm.arch '{config.Vlm.Arch}' is not registered; expected one of {string.Join(", ", Names)}");
        var architecture = factory();
        ValidateModel(config.Model);
        architecture.Validate(config, config.VisionEncoder.NumTokens);
        var freeze = new FreezePolicy(config.Vlm.Freeze, config.Vlm.FreezeSchedule, architecture.UnusedParameters(config));

        VisionEncoder encoder = config.VisionEncoder.Type switch
        {
            VisionEncoderConfig.Vit => new VitEncoder(config.VisionEncoder, device),
            VisionEncoderConfig.Cnn => new CnnEncoder(config.VisionEncoder, device),
            VisionEncoderConfig.Random => new RandomVisionEncoder(config.VisionEncoder.NumTokens, config.VisionEncoder.FeatureDim, config.Train.Seed, device),
            VisionEncoderConfig.Siglip or VisionEncoderConfig.Siglip2 => new SiglipVisionTower(RequirePath(config.VisionEncoder), device),
            VisionEncoderConfig.Clip => new ClipVisionTower(RequirePath(config.VisionEncoder), device),
            _ => throw new ArgumentException($"vision_encoder.type '{config.VisionEncoder.Type}' is unknown; expected one of {string.Join(", ", VisionEncoderConfig.Types)}"),
        };
        var adapter = VisionAdapter.Create(config.Adapter, encoder.FeatureDim, config.Model.Dim, device);
        (int, int, int)? crossAttention = null;
        if (architecture.UsesCrossAttention)
        {
            var (heads, kvHeads) = config.Vlm.ResolvedCrossAttentionHeads(config.Model.NHeads);
            crossAttention = (config.Vlm.CrossAttentionEveryNLayers, heads, kvHeads);
        }
        var decoder = new TextDecoder(config.Model, crossAttention, device, architecture.UsesMixtureOfTransformers);
        var model = new VisionLanguageModel(encoder, adapter, decoder, architecture, freeze, computeDType);
        ParameterInit.Initialize(model, config.Model, config.Train.Seed);
        // After the init, which draws for every parameter: a pretrained tower's weights are its directory's.
        if (encoder is PretrainedVisionTower tower) tower.LoadPretrained();
        if (config.Vlm.MotWarmStartFromText) MotWarmStart.FromTextStack(decoder, config.Vlm.MotWarmStartPath);
        model.to(computeDType);
        model.ApplyFreezeFor(0);
        return model;
    }

    private static string RequirePath(VisionEncoderConfig v) =>
        string.IsNullOrEmpty(v.Path)
            ? throw new ArgumentException($"vision_encoder.type = \"{v.Type}\" needs vision_encoder.path, a Hugging Face model directory")
            : v.Path;

    private static void ValidateModel(ModelConfig m)
    {
        if (m.Dim % m.NHeads != 0) throw new ArgumentException($"model.dim {m.Dim} is not divisible by model.n_heads {m.NHeads}");
        if (m.NHeads % m.ResolvedKvHeads != 0) throw new ArgumentException($"model.n_heads {m.NHeads} is not a multiple of model.n_kv_heads {m.ResolvedKvHeads}");
        if (m.HeadDim % 2 != 0) throw new ArgumentException($"model.dim / model.n_heads = {m.HeadDim} must be even for RoPE");
        if (m.NumExperts < 0) throw new ArgumentException($"model.num_experts = {m.NumExperts}: expected 0 (dense) or a positive count");
        if (!m.IsMoe) return;
        if (m.MoeRouter != Moe.SoftmaxTopKRouter.Name)
            throw new ArgumentException($"model.moe_router = '{m.MoeRouter}': expected one of \"{Moe.SoftmaxTopKRouter.Name}\"");
        if (m.MoeTopK < 1 || m.MoeTopK > m.NumExperts) throw new ArgumentException($"model.moe_top_k = {m.MoeTopK}: expected 1 to model.num_experts ({m.NumExperts})");
        if (m.MoeFrequency < 1) throw new ArgumentException($"model.moe_frequency = {m.MoeFrequency}: expected a positive layer interval");
        if (m.MoeCapacityFactor < 0) throw new ArgumentException($"model.moe_capacity_factor = {m.MoeCapacityFactor}: expected 0 (no drop) or a positive factor");
    }
}
