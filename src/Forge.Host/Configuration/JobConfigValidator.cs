using System.Numerics;
using Forge.Actors.Checkpointing;
using Forge.Model.Config;
using Forge.Model.Modeling;
using Forge.Model.Modeling.Architectures;
using Forge.Model.Modeling.Vision;
using Forge.Model.Text;

namespace Forge.Host.Configuration;

/// <summary>
/// Checks that a bound config describes a job that can run: sizes that divide, names that exist,
/// ranges that make sense. Every failed check names the key, its value and the expectation; keys
/// the file does not set are reported as defaults, so a user knows the fix is to add them.
/// <para>
/// The names a key may choose between come from their one owner, the list the code that acts on
/// the name dispatches on: the config record's (<see cref="AdapterConfig.Types"/>, …), the
/// architecture registry's or the tokenizer catalogue's, so a name added there is accepted here.
/// </para>
/// </summary>
internal sealed class JobConfigValidator(ConfigLocations locations, List<ConfigError> errors)
{
    public void Validate(JobConfig c)
    {
        RunName(c.RunName);
        Model(c.Model);
        Moe(c.Model);
        Train(c.Train, c.Elastic);
        Optimizer(c.Optimizer);
        Scheduler(c.Scheduler);
        Data(c.Data, c.Model, c.VisionEncoder);
        Checkpoint(c.Checkpoint);
        Distributed(c.Distributed);
        VisionEncoder(c.VisionEncoder);
        Adapter(c.Adapter);
        Vlm(c.Vlm, c.Model, c.VisionEncoder);
        Elastic(c.Elastic);
        Security(c.Security);
    }

    /// <summary>
    /// The run name is a directory name and the checkpoint store's job id (which reserves '|' and
    /// allows 200 characters), so it is kept to a portable file-name alphabet.
    /// </summary>
    private void RunName(string name)
    {
        var ok = name.Length is > 0 and <= 200 && name is not ("." or "..")
                 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
        Require(ok, "run_name", name, "1 to 200 letters, digits, '.', '_' or '-' (it names runs/<run_name>/ and the checkpoint job)");
    }

    private void Model(ModelConfig m)
    {
        Positive("model.dim", m.Dim);
        Positive("model.n_layers", m.NLayers);
        Positive("model.n_heads", m.NHeads);
        AtLeast("model.n_kv_heads", m.NKvHeads, 0, "0 (same as n_heads) or a positive count");
        Positive("model.vocab_size", m.VocabSize);
        Positive("model.ffn_dim_multiplier", m.FfnDimMultiplier);
        AtLeast("model.ffn_hidden_dim", m.FfnHiddenDim, 0, "0 (derived from dim) or a positive width");
        Positive("model.norm_eps", m.NormEps);
        Positive("model.max_seq_len", m.MaxSeqLen);
        Positive("model.rope_theta", m.RopeTheta);
        Positive("model.init_std", m.InitStd);
        if (m.Dim <= 0 || m.NHeads <= 0) return;

        if (Require(m.Dim % m.NHeads == 0, "model.n_heads", m.NHeads, $"a divisor of model.dim ({m.Dim})"))
            Require(m.HeadDim % 2 == 0, "model.n_heads", m.NHeads,
                $"a head width dim/n_heads that is even for rotary embeddings (dim {m.Dim} / {m.NHeads} = {m.HeadDim})");
        if (m.NKvHeads > 0)
            Require(m.NHeads % m.NKvHeads == 0, "model.n_kv_heads", m.NKvHeads, $"a divisor of model.n_heads ({m.NHeads})");
    }

    private void Moe(ModelConfig m)
    {
        AtLeast("model.num_experts", m.NumExperts, 0, "0 (dense MLPs) or a positive expert count");
        AtLeast("model.moe_shared_experts", m.MoeSharedExperts, 0, "0 (none) or a positive count");
        AtLeast("model.moe_capacity_factor", m.MoeCapacityFactor, 0, "0 (no token dropped) or a positive factor");
        AtLeast("model.moe_aux_loss_weight", m.MoeAuxLossWeight, 0, "a weight of at least 0");
        AtLeast("model.moe_router_z_loss_weight", m.MoeRouterZLossWeight, 0, "a weight of at least 0 (0 = off)");
        if (m.NumExperts <= 0) return;
        OneOf("model.moe_router", m.MoeRouter, ModelConfig.MoeRouters);
        if (Positive("model.moe_top_k", m.MoeTopK))
            Require(m.MoeTopK <= m.NumExperts, "model.moe_top_k", m.MoeTopK, $"at most model.num_experts ({m.NumExperts})");
        if (Positive("model.moe_frequency", m.MoeFrequency) && m.NLayers > 0)
            Require(m.MoeFrequency <= m.NLayers, "model.moe_frequency", m.MoeFrequency,
                $"at most model.n_layers ({m.NLayers}), or no layer gets an MoE MLP");
    }

    private void Train(TrainConfig t, ElasticConfig elastic)
    {
        Positive("train.batch_size", t.BatchSize);
        AtLeast("train.global_batch_size", t.GlobalBatchSize, 0,
            "0 (batch_size × the world size of the job's first world) or at least 1 sample per optimizer step");
        Positive("train.max_steps", t.MaxSteps);
        AtLeast("train.grad_clip_norm", t.GradClipNorm, 0, "0 (no clipping) or a positive norm");
        OneOf("train.mixed_precision", t.MixedPrecision, TrainConfig.MixedPrecisions);
        Positive("train.log_interval", t.LogInterval);
        AtLeast("train.eval_interval", t.EvalInterval, 0, "0 (no eval) or a positive step interval");
        AtLeast("train.eval_batches", t.EvalBatches, 0, "a count of at least 0");
        AtLeast("train.generate_samples", t.GenerateSamples, 0, "a count of at least 0");
        AtLeast("train.max_bad_steps", t.MaxBadSteps, 1, "a count of at least 1");
        AtLeast("train.score_samples", t.ScoreSamples, 0, "0 (no caption scores) or a count of held-out images per test");
        if (t.GlobalBatchSize > 0 && elastic.MinRanks > t.GlobalBatchSize)
            Require(false, "elastic.min_ranks", elastic.MinRanks,
                $"at most train.global_batch_size ({t.GlobalBatchSize}): every rank needs at least one sample per step");
    }

    private void Optimizer(OptimizerConfig o)
    {
        OneOf("optimizer.name", o.Name, OptimizerConfig.Names);
        Positive("optimizer.lr", o.Lr);
        AtLeast("optimizer.weight_decay", o.WeightDecay, 0, "a decay of at least 0");
        Positive("optimizer.eps", o.Eps);
        if (Require(o.Betas.Count == 2, "optimizer.betas", o.Betas, "two numbers [beta1, beta2]"))
            for (var i = 0; i < 2; i++)
                Require(o.Betas[i] is >= 0 and < 1, "optimizer.betas", o.Betas, $"beta{i + 1} in [0, 1), got {o.Betas[i]}");
    }

    private void Scheduler(SchedulerConfig s)
    {
        OneOf("scheduler.name", s.Name, SchedulerConfig.Names);
        AtLeast("scheduler.warmup_steps", s.WarmupSteps, 0, "a step count of at least 0");
        AtLeast("scheduler.decay_steps", s.DecaySteps, 0, "0 (decay over the remaining steps) or a positive step count");
        Require(s.MinLrRatio is >= 0 and <= 1, "scheduler.min_lr_ratio", s.MinLrRatio, "a ratio in [0, 1]");
    }

    private void Data(DataConfig d, ModelConfig m, VisionEncoderConfig v)
    {
        TrainingManifests(d.Manifests);
        Categories(d.Categories);
        // The unseen-art test scores training names drawn by other art: the training art itself, or the
        // unseen-names set (whose names training lacks), would leave it testing something else or nothing.
        if (!string.IsNullOrWhiteSpace(d.UnseenArtManifest))
        {
            var training = d.Manifests.FirstOrDefault(path => !string.IsNullOrWhiteSpace(path) && SamePath(d.UnseenArtManifest, path));
            if (Require(training is null, "data.unseen_art_manifest", d.UnseenArtManifest,
                    $"a manifest of other art than data.manifest (\"{training}\" trains), e.g. \"data/emoji-twitter/train.jsonl\" beside \"data/emoji-google/train.jsonl\""))
                Require(string.IsNullOrWhiteSpace(d.EvalManifest) || !SamePath(d.UnseenArtManifest, d.EvalManifest), "data.unseen_art_manifest",
                    d.UnseenArtManifest, $"another manifest than data.eval_manifest (\"{d.EvalManifest}\"): the unseen-art test keeps only names data.manifest teaches");
        }
        if (HfTokenizer.IsPath(d.Tokenizer)) HfTokenizerFits(d.Tokenizer, m);
        else if (OneOf("data.tokenizer", d.Tokenizer, TokenizerCatalog.Names, "; or the path of a Hugging Face tokenizer.json or a model directory holding one")
            && TokenizerCatalog.VocabSizes.TryGetValue(d.Tokenizer, out var minimum))
            Require(m.VocabSize >= minimum, "model.vocab_size", m.VocabSize,
                $"at least {minimum}, the id range of data.tokenizer \"{d.Tokenizer}\"");
        Positive("data.image_size", d.ImageSize);
        Require(d.Mean.Count == 3, "data.mean", d.Mean, "three numbers, one per RGB channel");
        if (Require(d.Std.Count == 3, "data.std", d.Std, "three numbers, one per RGB channel"))
            Require(d.Std.All(s => s > 0), "data.std", d.Std, "positive numbers (images are divided by them)");
        AtLeast("data.num_workers", d.NumWorkers, 0, "0 (min(4, cores)) or a positive thread count");
        Positive("data.prefetch", d.Prefetch);
        Require(d.AugmentCrop is > 0 and <= 1, "data.augment_crop", d.AugmentCrop, "a fraction of the image side in (0, 1]; 1 = no random crop");
        AtLeast("data.augment_blur", d.AugmentBlur, 0, "0 (no blur) or a largest blur sigma in pixels");
        Require(d.AugmentColour is >= 0 and < 1, "data.augment_colour", d.AugmentColour, "a fraction in [0, 1); 0 = no colour change");
        Require(d.AugmentFlip is >= 0 and <= 1, "data.augment_flip", d.AugmentFlip, "a probability in [0, 1]; 0 = never mirrored");
        OneOf("data.emoji_vendor", d.EmojiVendor, DataConfig.EmojiVendors);
        if (v.IsBuiltFromShapeKeys && d.ImageSize > 0)
            Require(d.ImageSize == v.ImageSize, "data.image_size", d.ImageSize,
                $"equal to vision_encoder.image_size ({v.ImageSize}), the size the {v.Type} encoder is built for");
    }

    private void HfTokenizerFits(string path, ModelConfig m)
    {
        int vocab;
        try
        {
            vocab = TokenizerCatalog.Create(path).VocabSize;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or InvalidOperationException)
        {
            Require(false, "data.tokenizer", path, $"a byte-level BPE tokenizer.json this project can run: {e.Message}");
            return;
        }
        Require(m.VocabSize >= vocab, "model.vocab_size", m.VocabSize, $"at least {vocab}, the id range of the tokenizer at {path}");
    }

    /// <summary>data.manifest: one path or a list; each a path, each file once (a file listed twice would train at double weight).</summary>
    private void TrainingManifests(IReadOnlyList<string> manifests)
    {
        if (!Require(manifests.Count > 0, "data.manifest", manifests,
                "the path of a JSONL manifest, or a list of them, e.g. [\"data/emoji-google/train.jsonl\", \"data/emoji-apple/train.jsonl\"]"))
            return;
        for (var i = 0; i < manifests.Count; i++)
        {
            var key = manifests.Count == 1 ? "data.manifest" : $"data.manifest[{i}]";
            if (!Require(!string.IsNullOrWhiteSpace(manifests[i]), key, manifests[i], "the path of a JSONL manifest")) continue;
            var earlier = manifests.Take(i).ToList().FindIndex(path => !string.IsNullOrWhiteSpace(path) && SamePath(path, manifests[i]));
            Require(earlier < 0, key, manifests[i],
                $"a manifest not listed before: data.manifest[{earlier}] (\"{(earlier < 0 ? "" : manifests[earlier])}\") is the same file");
        }
    }

    /// <summary>data.categories: each a category name, each once. Whether the training rows have it is known only once they are read (Data.CategorySelection).</summary>
    private void Categories(IReadOnlyList<string> categories)
    {
        for (var i = 0; i < categories.Count; i++)
        {
            var key = $"data.categories[{i}]";
            if (!Require(!string.IsNullOrWhiteSpace(categories[i]), key, categories[i],
                    "a manifest category, e.g. \"Animals & Nature\" (data.categories = [] keeps every row)")) continue;
            var earlier = categories.Take(i).ToList().IndexOf(categories[i]);
            Require(earlier < 0, key, categories[i], $"a category not listed before: data.categories[{earlier}] is the same");
        }
    }

    private static bool SamePath(string a, string b) => Path.GetFullPath(a) == Path.GetFullPath(b);

    private void Checkpoint(CheckpointConfig c)
    {
        AtLeast("checkpoint.interval", c.Interval, 0, "0 (only at the end and on a signal) or a positive step interval");
        if (OneOf("checkpoint.store", c.Store, CheckpointConfig.Stores) && c.Store == CheckpointConfig.PostgreSql)
            Require(c.ConnectionString.Length > 0, "checkpoint.connection_string", c.ConnectionString,
                "a PostgreSQL connection string when checkpoint.store = \"postgresql\"");
        Require(c.ChunkMiB is >= 1 and <= CheckpointStoreSettings.MaxChunkMiB, "checkpoint.chunk_mib", c.ChunkMiB,
            $"1 to {CheckpointStoreSettings.MaxChunkMiB} MiB (chunks stay well below the 1 GB blob limits of SQLite and PostgreSQL)");
        Require(c.Writers is >= 1 and <= CheckpointStoreSettings.MaxWriters, "checkpoint.writers", c.Writers,
            $"1 to {CheckpointStoreSettings.MaxWriters} chunk writers (for SQLite, files)");
        OneOf("checkpoint.export_dtype", c.ExportDtype, CheckpointConfig.ExportDtypes);
        if (c.LoadPath.Length > 0)
            Require(File.Exists(c.LoadPath) || Directory.Exists(c.LoadPath), "checkpoint.load_path", c.LoadPath,
                "an existing safetensors file or Hugging Face model directory (config.json with model.safetensors, or model-*.safetensors shards and their index)");
        for (var i = 0; i < c.ExcludeFromLoading.Count; i++)
            Require(!string.IsNullOrWhiteSpace(c.ExcludeFromLoading[i]), $"checkpoint.exclude_from_loading[{i}]", c.ExcludeFromLoading[i],
                "a tensor name, a dotted prefix or a glob (* and ?)");
    }

    private void Distributed(DistributedConfig d)
    {
        OneOf("distributed.backend", d.Backend, DistributedConfig.Backends);
        Positive("distributed.step_timeout_sec", d.StepTimeoutSec);
        Positive("distributed.form_timeout_sec", d.FormTimeoutSec);
        Positive("distributed.abort_timeout_sec", d.AbortTimeoutSec);
    }

    /// <summary>
    /// Both certificate files or neither: TLS needs this node's certificate and the CA that checks its
    /// peers. Whether a cluster may run without them depends on its --host (ClusterTrust.For).
    /// </summary>
    private void Security(SecurityConfig s)
    {
        if (s.CaCertificate.Length > 0)
            Require(File.Exists(s.CaCertificate), "security.ca_certificate", s.CaCertificate, "an existing CA certificate file (PEM or DER), e.g. certs/ca.pem from `forge certs init`");
        if (s.NodeCertificate.Length > 0)
            Require(File.Exists(s.NodeCertificate), "security.node_certificate", s.NodeCertificate,
                "an existing certificate file with its private key (.pfx, or PEM with the key), e.g. certs/<host>.pfx from `forge certs node <host>`");
        if (s.NodeCertificate.Length > 0 && s.CaCertificate.Length == 0)
            Require(false, "security.ca_certificate", s.CaCertificate, "the CA certificate that signed security.node_certificate (both are needed for TLS)");
        if (s.CaCertificate.Length > 0 && s.NodeCertificate.Length == 0)
            Require(false, "security.node_certificate", s.NodeCertificate, "this node's certificate, signed by security.ca_certificate (both are needed for TLS)");
    }

    private void VisionEncoder(VisionEncoderConfig v)
    {
        var known = OneOf("vision_encoder.type", v.Type, VisionEncoderConfig.Types);
        Positive("vision_encoder.feature_dim", v.FeatureDim);
        Positive("vision_encoder.num_tokens", v.NumTokens);
        if (!known || !v.IsBuiltFromShapeKeys) return;

        var cnn = v.Type == VisionEncoderConfig.Cnn;
        // A CNN stem may stand alone (no ViT blocks after it); a ViT is its blocks.
        if (cnn) AtLeast("vision_encoder.n_layers", v.NLayers, 0, "0 (the conv stem alone) or a count of ViT blocks after it");
        else Positive("vision_encoder.n_layers", v.NLayers);
        if (v.NLayers > 0)
        {
            Positive("vision_encoder.mlp_ratio", v.MlpRatio);
            if (Positive("vision_encoder.n_heads", v.NHeads) && v.FeatureDim > 0)
                Require(v.FeatureDim % v.NHeads == 0, "vision_encoder.n_heads", v.NHeads,
                    $"a divisor of vision_encoder.feature_dim ({v.FeatureDim})");
        }
        if (!Positive("vision_encoder.image_size", v.ImageSize) || !Positive("vision_encoder.patch_size", v.PatchSize)) return;
        var cnnStages = cnn ? CnnEncoder.StagesFor(v.PatchSize) : null;
        if (cnn && !Require(cnnStages is not null, "vision_encoder.patch_size", v.PatchSize,
                "a power of two of at least 2 for a CNN stem (each stride-2 stage halves the side)")) return;
        if (!Require(v.ImageSize % v.PatchSize == 0, "vision_encoder.patch_size", v.PatchSize,
                $"a divisor of vision_encoder.image_size ({v.ImageSize})")) return;
        var side = v.ImageSize / v.PatchSize;
        Require(v.NumTokens == side * side, "vision_encoder.num_tokens", v.NumTokens,
            $"(image_size / patch_size)^2 = ({v.ImageSize} / {v.PatchSize})^2 = {side * side} for a {(cnn ? "CNN" : "ViT")}");
        if (cnnStages is { } stages && v.FeatureDim > 0)
        {
            var halvings = 1 << (stages - 1);
            Require(v.FeatureDim % halvings == 0, "vision_encoder.feature_dim", v.FeatureDim,
                $"a multiple of {halvings} for a CNN stem with {v.PatchSize}px cells (its stages' widths halve back from feature_dim)");
        }
    }

    private void Adapter(AdapterConfig a)
    {
        OneOf("adapter.type", a.Type, AdapterConfig.Types);
        AtLeast("adapter.hidden_dim", a.HiddenDim, 0, "0 (model.dim) or a positive width");
        OneOf("adapter.activation", a.Activation, AdapterConfig.Activations);
    }

    private void Vlm(VlmConfig v, ModelConfig m, VisionEncoderConfig encoder)
    {
        var known = OneOf("vlm.arch", v.Arch, [.. VlmRegistry.Names]);
        Require(v.MaxTextLen >= 2, "vlm.max_text_len", v.MaxTextLen, "at least 2 tokens (an input and its next-token target)");
        if (known && v.Arch == CrossAttentionArchitecture.Name)
        {
            Require(v.MaxTextLen <= m.MaxSeqLen, "vlm.max_text_len", v.MaxTextLen, $"at most model.max_seq_len ({m.MaxSeqLen})");
            if (Positive("vlm.cross_attention_every_n_layers", v.CrossAttentionEveryNLayers) && m.NLayers > 0)
                Require(v.CrossAttentionEveryNLayers <= m.NLayers, "vlm.cross_attention_every_n_layers",
                    v.CrossAttentionEveryNLayers, $"at most model.n_layers ({m.NLayers}), or the model has no cross-attention block");
            AtLeast("vlm.cross_attention_n_heads", v.CrossAttentionNHeads, 0, "0 (model.n_heads) or a positive count");
            AtLeast("vlm.cross_attention_n_kv_heads", v.CrossAttentionNKvHeads, 0, "0 (the cross-attention heads) or a positive count");
            // Only explicit values: inherited heads were checked as model.n_heads already.
            var (heads, _) = v.ResolvedCrossAttentionHeads(Math.Max(m.NHeads, 1));
            if (v.CrossAttentionNHeads > 0 && m.Dim > 0)
                Require(m.Dim % heads == 0, "vlm.cross_attention_n_heads", heads, $"a divisor of model.dim ({m.Dim})");
            if (v.CrossAttentionNKvHeads > 0 && heads > 0)
                Require(heads % v.CrossAttentionNKvHeads == 0, "vlm.cross_attention_n_kv_heads", v.CrossAttentionNKvHeads,
                    $"a divisor of the cross-attention heads ({heads})");
        }
        else if (known && v.Arch == MixtureOfTransformersArchitecture.Name)
        {
            Require(encoder.NumTokens + v.MaxTextLen <= m.MaxSeqLen, "vlm.max_text_len", v.MaxTextLen,
                $"at most model.max_seq_len - vision_encoder.num_tokens ({m.MaxSeqLen} - {encoder.NumTokens}): MoT runs one attention over image and text tokens");
            AtLeast("vlm.mot_image_n_heads", v.MotImageNHeads, 0, "0 (model.n_heads) or a positive count");
            AtLeast("vlm.mot_image_n_kv_heads", v.MotImageNKvHeads, 0, "0 (the text KV heads) or a positive count");
            if (m.NHeads > 0)
            {
                var (heads, kvHeads) = v.ResolvedMotImageHeads(m.NHeads, m.ResolvedKvHeads);
                if (v.MotImageNHeads > 0)
                    Require(heads == m.NHeads, "vlm.mot_image_n_heads", v.MotImageNHeads,
                        $"0 or model.n_heads ({m.NHeads}): one attention over both modalities needs equal head counts");
                if (v.MotImageNKvHeads > 0)
                    Require(kvHeads == m.ResolvedKvHeads, "vlm.mot_image_n_kv_heads", v.MotImageNKvHeads,
                        $"0 or the text KV heads ({m.ResolvedKvHeads}): one attention over both modalities needs equal head counts");
            }
            Require(m.NumExperts == 0, "model.num_experts", m.NumExperts,
                "0 with vlm.arch = \"mot\": MoE MLPs inside MoT blocks are not supported");
            if (v.MotWarmStartFromText)
                Require(v.MotWarmStartPath.Length > 0, "vlm.mot_warm_start_path", v.MotWarmStartPath,
                    "the path of a dense text-stack safetensors file when vlm.mot_warm_start_from_text = true");
        }
        else if (known && v.Arch == JointDecoderArchitecture.Name)
        {
            Require(encoder.NumTokens + v.MaxTextLen <= m.MaxSeqLen, "vlm.max_text_len", v.MaxTextLen,
                $"at most model.max_seq_len - vision_encoder.num_tokens ({m.MaxSeqLen} - {encoder.NumTokens}): a joint decoder reads image and text tokens as one sequence");
        }

        for (var i = 0; i < v.Freeze.Count; i++)
            Require(!string.IsNullOrWhiteSpace(v.Freeze[i].Module), $"vlm.freeze[{i}].module", v.Freeze[i].Module,
                "a module alias (vision_encoder, adapter, cross_attention, transformer) or a parameter-name glob");
        for (var i = 0; i < v.FreezeSchedule.Count; i++)
        {
            var stage = v.FreezeSchedule[i];
            var key = $"vlm.freeze_schedule[{i}].start_step";
            if (i == 0) AtLeast(key, stage.StartStep, 0, "a step of at least 0");
            else Require(stage.StartStep > v.FreezeSchedule[i - 1].StartStep, key, stage.StartStep,
                $"greater than the previous stage's start_step ({v.FreezeSchedule[i - 1].StartStep}): stages apply in step order");
            for (var j = 0; j < stage.Specs.Count; j++)
                Require(!string.IsNullOrWhiteSpace(stage.Specs[j].Module), $"vlm.freeze_schedule[{i}].specs[{j}].module",
                    stage.Specs[j].Module, "a module alias or a parameter-name glob");
        }
    }

    private void Elastic(ElasticConfig e)
    {
        Positive("elastic.min_ranks", e.MinRanks);
        if (AtLeast("elastic.max_ranks", e.MaxRanks, 0, "0 (no upper bound) or a rank count") && e.MaxRanks > 0)
            Require(e.MaxRanks >= e.MinRanks, "elastic.max_ranks", e.MaxRanks, $"0 or at least elastic.min_ranks ({e.MinRanks})");
        AtLeast("elastic.max_restarts", e.MaxRestarts, 0, "a count of at least 0");
        AtLeast("elastic.replica_interval", e.ReplicaInterval, 0, "0 (no buddy replicas) or a step count");
        Require(e.ReplicaMaxOverhead is >= 0 and < 1, "elastic.replica_max_overhead", e.ReplicaMaxOverhead,
            "a fraction of the training time from 0 (no bound) up to, not including, 1 (0.02 = 2%)");
    }

    // Generic so the value is quoted back with the type it was written in (0, not 0.0).
    private bool Positive<T>(string key, T value) where T : INumber<T> => Require(value > T.Zero, key, value, "a value greater than 0");

    private bool AtLeast<T>(string key, T value, T minimum, string expectation) where T : INumber<T> =>
        Require(value >= minimum, key, value, expectation);

    private bool OneOf(string key, string value, IReadOnlyList<string> names, string alternative = "")
    {
        if (names.Contains(value)) return true;
        var suggestion = KeySuggestion.Closest(value, names);
        var expected = $"one of {string.Join(", ", names.Select(n => $"\"{n}\""))}{alternative}";
        return Require(false, key, value, suggestion is null ? expected : $"{expected}; did you mean \"{suggestion}\"?");
    }

    private bool Require(bool condition, string key, object value, string expectation)
    {
        if (!condition) errors.Add(new ConfigError(locations.OfOrDefault(key), key, TomlText.Format(value), expectation));
        return condition;
    }
}
