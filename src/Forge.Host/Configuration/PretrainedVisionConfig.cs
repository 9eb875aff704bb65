using Forge.Model.Config;
using Forge.Model.Modeling.Vision.Towers;

namespace Forge.Host.Configuration;

/// <summary>
/// For a pretrained tower (<c>vision_encoder.type</c> siglip, siglip2 or clip), the shape keys come
/// from its directory: <c>vision_encoder.feature_dim</c>, <c>num_tokens</c>, <c>image_size</c> and
/// <c>patch_size</c> from config.json, and <c>data.image_size</c>, <c>mean</c>, <c>std</c> from
/// preprocessor_config.json (the tower's own preprocessing). A key the file sets must agree.
/// </summary>
internal static class PretrainedVisionConfig
{
    public static readonly IReadOnlyList<string> TowerTypes = ["siglip", "siglip2", "clip"];

    public static JobConfig Apply(JobConfig config, ConfigLocations locations, List<ConfigError> errors)
    {
        var v = config.VisionEncoder;
        if (!TowerTypes.Contains(v.Type)) return config;
        if (v.Path.Length == 0 || !Directory.Exists(v.Path))
        {
            errors.Add(new ConfigError(locations.OfOrDefault("vision_encoder.path"), "vision_encoder.path", TomlText.Format(v.Path),
                $"the Hugging Face model directory of the {v.Type} tower (config.json, model.safetensors, preprocessor_config.json)"));
            return config;
        }
        HfVisionTowerConfig tower;
        HfImagePreprocessing pre;
        try
        {
            tower = HfVisionTowerConfig.Read(v.Path, v.Type == "clip" ? "clip" : "siglip");
            pre = HfImagePreprocessing.Read(v.Path);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            errors.Add(new ConfigError(locations.OfOrDefault("vision_encoder.path"), "vision_encoder.path", TomlText.Format(v.Path), $"a {v.Type} tower directory: {e.Message}"));
            return config;
        }

        Agree("vision_encoder.feature_dim", v.FeatureDim, tower.HiddenSize, "hidden_size in config.json");
        Agree("vision_encoder.num_tokens", v.NumTokens, tower.Patches, "(image_size / patch_size)^2 in config.json");
        Agree("vision_encoder.image_size", v.ImageSize, tower.ImageSize, "image_size in config.json");
        Agree("vision_encoder.patch_size", v.PatchSize, tower.PatchSize, "patch_size in config.json");
        Agree("data.image_size", config.Data.ImageSize, pre.ImageSize, "the size preprocessor_config.json feeds the tower");
        if (locations.Of("data.mean") is not null && !config.Data.Mean.SequenceEqual(pre.Mean)) Disagree("data.mean", config.Data.Mean, pre.Mean, "image_mean in preprocessor_config.json");
        if (locations.Of("data.std") is not null && !config.Data.Std.SequenceEqual(pre.Std)) Disagree("data.std", config.Data.Std, pre.Std, "image_std in preprocessor_config.json");
        if (pre.ImageSize != tower.ImageSize)
            errors.Add(new ConfigError(locations.OfOrDefault("vision_encoder.path"), "vision_encoder.path", TomlText.Format(v.Path),
                $"a tower whose preprocessor size ({pre.ImageSize}) equals its config.json image_size ({tower.ImageSize})"));

        return config with
        {
            VisionEncoder = v with { FeatureDim = tower.HiddenSize, NumTokens = tower.Patches, ImageSize = tower.ImageSize, PatchSize = tower.PatchSize },
            Data = config.Data with { ImageSize = pre.ImageSize, Mean = pre.Mean, Std = pre.Std },
        };

        void Agree(string key, int value, int pretrained, string source)
        {
            if (locations.Of(key) is not null && value != pretrained) Disagree(key, value, pretrained, source);
        }

        void Disagree(string key, object value, object pretrained, string source) =>
            errors.Add(new ConfigError(locations.OfOrDefault(key), key, TomlText.Format(value),
                $"{TomlText.Format(pretrained)}, the tower's {source} at {v.Path} (or leave {key} out to take it from there)"));
    }
}
