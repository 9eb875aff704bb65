using Forge.Model.Config;
using Forge.Model.Pretrained;

namespace Forge.Host.Configuration;

/// <summary>
/// Takes <c>[model]</c> from the config.json of a Hugging Face Llama directory named by
/// <c>checkpoint.load_path</c>, so a config need not restate the pretrained model's shape. A
/// <c>[model]</c> key the file sets must agree with config.json (it is then merely redundant);
/// <c>max_seq_len</c> may be shorter (it only sizes the RoPE tables), and <c>init_std</c>, which
/// config.json does not decide for the blocks it lacks, stays the file's.
/// </summary>
internal static class PretrainedModelConfig
{
    public static JobConfig Apply(JobConfig config, ConfigLocations locations, List<ConfigError> errors)
    {
        var path = config.Checkpoint.LoadPath;
        if (string.IsNullOrEmpty(path) || !Directory.Exists(path) || !File.Exists(Path.Combine(path, HfLlamaConfig.FileName))) return config;

        HfLlamaConfig hf;
        try
        {
            hf = HfLlamaConfig.Read(path);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            errors.Add(new ConfigError(locations.OfOrDefault("checkpoint.load_path"), "checkpoint.load_path", TomlText.Format(path),
                $"a Hugging Face Llama model directory: {e.Message}"));
            return config;
        }

        var written = config.Model;
        var mapped = hf.Model with { InitStd = written.InitStd };
        Agree("dim", written.Dim, mapped.Dim, "hidden_size");
        Agree("n_layers", written.NLayers, mapped.NLayers, "num_hidden_layers");
        Agree("n_heads", written.NHeads, mapped.NHeads, "num_attention_heads");
        // 0 and n_heads both mean one KV head per query head.
        if (locations.Of("model.n_kv_heads") is not null && written.ResolvedKvHeads != mapped.ResolvedKvHeads && written.NKvHeads != 0)
            Disagree("n_kv_heads", written.NKvHeads, mapped.ResolvedKvHeads, "num_key_value_heads");
        Agree("vocab_size", written.VocabSize, mapped.VocabSize, "vocab_size");
        if (locations.Of("model.ffn_hidden_dim") is not null && written.ResolvedFfnHiddenDim != mapped.FfnHiddenDim)
            Disagree("ffn_hidden_dim", written.FfnHiddenDim, mapped.FfnHiddenDim, "intermediate_size");
        if (locations.Of("model.ffn_dim_multiplier") is not null && locations.Of("model.ffn_hidden_dim") is null && written.ResolvedFfnHiddenDim != mapped.FfnHiddenDim)
            Disagree("ffn_dim_multiplier", written.FfnDimMultiplier, mapped.FfnHiddenDim, "intermediate_size");
        Agree("norm_eps", written.NormEps, mapped.NormEps, "rms_norm_eps");
        Agree("rope_theta", written.RopeTheta, mapped.RopeTheta, "rope_theta");
        if (locations.Of("model.max_seq_len") is not null)
        {
            if (written.MaxSeqLen > mapped.MaxSeqLen)
                errors.Add(new ConfigError(locations.OfOrDefault("model.max_seq_len"), "model.max_seq_len", TomlText.Format(written.MaxSeqLen),
                    $"at most the pretrained model's max_position_embeddings ({mapped.MaxSeqLen}) in {path}/config.json"));
            mapped = mapped with { MaxSeqLen = written.MaxSeqLen };
        }
        return config with { Model = mapped };

        void Agree<T>(string key, T value, T pretrained, string hfKey) where T : IEquatable<T>
        {
            if (locations.Of($"model.{key}") is not null && !value.Equals(pretrained)) Disagree(key, value, pretrained, hfKey);
        }

        void Disagree(string key, object value, object pretrained, string hfKey) =>
            errors.Add(new ConfigError(locations.OfOrDefault($"model.{key}"), $"model.{key}", TomlText.Format(value),
                $"{TomlText.Format(pretrained)}, the pretrained model's {hfKey} in {path}/config.json (or leave model.{key} out to take it from there)"));
    }
}
