using Forge.Host.Configuration;

namespace Forge.Host.Tests.Configuration;

public sealed class ConfigErrorTests
{
    private const string File = "jobs/test.toml";

    private static ConfigError SingleError(string toml, params string[] overrides)
    {
        var e = Assert.Throws<ConfigException>(() => JobConfigLoader.Parse(toml, File, overrides));
        return Assert.Single(e.Errors);
    }

    [Fact]
    public void AMisspeltKeyIsNamedWithItsLineAndTheNearestKnownKey()
    {
        var error = SingleError("run_name = \"x\"\n[model]\ndim = 128\nn_head = 4\n");

        Assert.Equal(ConfigLocation.InFile(File, 4), error.Location);
        Assert.Equal("model.n_head", error.Key);
        Assert.Equal("4", error.Value);
        Assert.Contains("did you mean 'n_heads'?", error.Expected);
        Assert.StartsWith("jobs/test.toml:4: model.n_head = 4: unknown key in [model]", error.ToString());
    }

    [Fact]
    public void AMisspeltSectionSuggestsTheSection()
    {
        var error = SingleError("[modle]\ndim = 64\n");

        Assert.Equal("modle", error.Key);
        Assert.Contains("did you mean 'model'?", error.Expected);
    }

    [Fact]
    public void AnUnrecognisableKeyListsTheKnownKeysInstead()
    {
        var error = SingleError("[scheduler]\nlearning_rate_schedule_kind = 1\n");

        Assert.DoesNotContain("did you mean", error.Expected);
        Assert.Contains("warmup_steps", error.Expected);
    }

    [Theory]
    [InlineData("[model]\ndim = \"big\"\n", "model.dim", "\"big\"", "expected an integer")]
    [InlineData("[model]\ndim = 128.0\n", "model.dim", "128.0", "expected an integer")]
    [InlineData("[optimizer]\nlr = \"fast\"\n", "optimizer.lr", "\"fast\"", "expected a number")]
    [InlineData("[metrics]\njsonl = 1\n", "metrics.jsonl", "1", "expected true or false")]
    [InlineData("[optimizer]\nbetas = 0.9\n", "optimizer.betas", "0.9", "expected an array of numbers")]
    [InlineData("[data]\nmanifest = 5\n", "data.manifest", "5", "expected a string or an array of strings")]
    [InlineData("[data]\nmanifest = [\"a.jsonl\", 5]\n", "data.manifest[1]", "5", "expected a string")]
    [InlineData("[vlm]\nfreeze = \"vision_encoder\"\n", "vlm.freeze", "\"vision_encoder\"", "expected an array of tables")]
    [InlineData("model = 3\n", "model", "3", "expected a table")]
    [InlineData("[model]\ndim = 4294967296\n", "model.dim", "4294967296", "expected an integer within ±2147483647")]
    public void AWrongTypeNamesTheKeyTheValueAndTheExpectedType(string toml, string key, string value, string expected)
    {
        var error = SingleError(toml);

        Assert.Equal((key, value, expected), (error.Key, error.Value, error.Expected));
        Assert.Equal(File, error.Location.Source);
        Assert.NotNull(error.Location.Line);
    }

    [Theory]
    [InlineData("[model]\ndim = 128\nn_heads = 5\n", "model.n_heads", "a divisor of model.dim (128)")]
    [InlineData("[model]\ndim = 128\nn_heads = 4\nn_kv_heads = 3\n", "model.n_kv_heads", "a divisor of model.n_heads (4)")]
    [InlineData("[model]\nn_layers = 4\n[vlm]\ncross_attention_every_n_layers = 6\n", "vlm.cross_attention_every_n_layers", "at most model.n_layers (4)")]
    [InlineData("[train]\nglobal_batch_size = -1\n", "train.global_batch_size", "at least 1 sample")]
    [InlineData("[train]\nbatch_size = 0\n", "train.batch_size", "greater than 0")]
    [InlineData("[optimizer]\nlr = 0.0\n", "optimizer.lr", "greater than 0")]
    [InlineData("[optimizer]\nbetas = [0.9, 1.0]\n", "optimizer.betas", "beta2 in [0, 1)")]
    [InlineData("[optimizer]\nbetas = [0.9]\n", "optimizer.betas", "two numbers")]
    [InlineData("[scheduler]\nname = \"cosin\"\n", "scheduler.name", "did you mean \"cosine\"?")]
    [InlineData("[vlm]\narch = \"perceiver\"\n", "vlm.arch", "one of \"cross_attention\", \"joint_decoder\"")]
    [InlineData("[adapter]\ntype = \"mlp2layer\"\n", "adapter.type", "did you mean \"mlp_2layer\"?")]
    [InlineData("[vision_encoder]\ntype = \"dino\"\n", "vision_encoder.type", "one of \"vit\", \"cnn\", \"random\", \"siglip\", \"siglip2\", \"clip\"")]
    [InlineData("[vision_encoder]\ntype = \"clip\"\n", "vision_encoder.path", "the Hugging Face model directory of the clip tower")]
    [InlineData("[data]\ntokenizer = \"sentencepiece\"\n", "data.tokenizer", "one of \"byte\"")]
    [InlineData("[checkpoint]\nstore = \"redis\"\n", "checkpoint.store", "one of \"sqlite\", \"postgresql\"")]
    [InlineData("[checkpoint]\nstore = \"postgresql\"\n", "checkpoint.connection_string", "a PostgreSQL connection string")]
    [InlineData("[vision_encoder]\nimage_size = 64\npatch_size = 7\n", "vision_encoder.patch_size", "a divisor of vision_encoder.image_size (64)")]
    [InlineData("[vision_encoder]\nimage_size = 64\npatch_size = 8\nnum_tokens = 65\n", "vision_encoder.num_tokens", "(64 / 8)^2 = 64")]
    [InlineData("[vision_encoder]\ntype = \"cnn\"\nimage_size = 48\npatch_size = 6\nnum_tokens = 64\n[data]\nimage_size = 48\n", "vision_encoder.patch_size", "a power of two of at least 2 for a CNN stem")]
    [InlineData("[vision_encoder]\ntype = \"cnn\"\nimage_size = 64\npatch_size = 8\nnum_tokens = 16\n", "vision_encoder.num_tokens", "(64 / 8)^2 = 64 for a CNN")]
    [InlineData("[vision_encoder]\ntype = \"cnn\"\nfeature_dim = 30\npatch_size = 8\nn_layers = 0\n", "vision_encoder.feature_dim", "a multiple of 4 for a CNN stem with 8px cells")]
    [InlineData("[vision_encoder]\ntype = \"cnn\"\nn_layers = -1\n", "vision_encoder.n_layers", "0 (the conv stem alone) or a count of ViT blocks after it")]
    [InlineData("[vision_encoder]\ntype = \"cnn\"\nimage_size = 32\nnum_tokens = 16\n", "data.image_size", "equal to vision_encoder.image_size (32), the size the cnn encoder is built for")]
    [InlineData("[model]\nvocab_size = 200\n", "model.vocab_size", "at least 259")]
    [InlineData("[model]\nvocab_size = 32000\n[data]\ntokenizer = \"cl100k_base\"\n", "model.vocab_size", "at least 100279")]
    [InlineData("[model]\ndim = 128\nn_heads = 4\n[vlm]\ncross_attention_n_heads = 3\n", "vlm.cross_attention_n_heads", "a divisor of model.dim (128)")]
    [InlineData("[model]\ndim = 128\nn_heads = 4\n[vlm]\ncross_attention_n_kv_heads = 3\n", "vlm.cross_attention_n_kv_heads", "a divisor of the cross-attention heads (4)")]
    [InlineData("[elastic]\nmin_ranks = 4\nmax_ranks = 2\n", "elastic.max_ranks", "at least elastic.min_ranks (4)")]
    [InlineData("run_name = \"a/b\"\n", "run_name", "letters, digits")]
    [InlineData("run_name = \"a|b\"\n", "run_name", "letters, digits")]
    [InlineData("run_name = \"..\"\n", "run_name", "letters, digits")]
    [InlineData("run_name = \"\"\n", "run_name", "letters, digits")]
    [InlineData("[[vlm.freeze_schedule]]\nstart_step = 10\n[[vlm.freeze_schedule]]\nstart_step = 5\n", "vlm.freeze_schedule[1].start_step", "greater than the previous stage's start_step (10)")]
    [InlineData("[data]\nmanifest = \"data/emoji-google/train.jsonl\"\nunseen_art_manifest = \"data/emoji-google/./train.jsonl\"\n", "data.unseen_art_manifest", "a manifest of other art than data.manifest")]
    [InlineData("[data]\neval_manifest = \"data/emoji-twitter/eval.jsonl\"\nunseen_art_manifest = \"data/emoji-twitter/eval.jsonl\"\n", "data.unseen_art_manifest", "another manifest than data.eval_manifest")]
    [InlineData("[data]\nmanifest = []\n", "data.manifest", "the path of a JSONL manifest, or a list of them")]
    [InlineData("[data]\nmanifest = [\"data/emoji-google/train.jsonl\", \"\"]\n", "data.manifest[1]", "the path of a JSONL manifest")]
    [InlineData("[data]\nmanifest = [\"data/emoji-google/train.jsonl\", \"data/emoji-apple/train.jsonl\", \"data/emoji-google/./train.jsonl\"]\n", "data.manifest[2]", "a manifest not listed before: data.manifest[0]")]
    [InlineData("[data]\nmanifest = [\"data/emoji-google/train.jsonl\", \"data/emoji-twitter/train.jsonl\"]\nunseen_art_manifest = \"data/emoji-twitter/train.jsonl\"\n", "data.unseen_art_manifest", "a manifest of other art than data.manifest (\"data/emoji-twitter/train.jsonl\" trains)")]
    [InlineData("[train]\nscore_samples = -1\n", "train.score_samples", "0 (no caption scores) or a count")]
    [InlineData("[data]\ncategories = [\"Animals & Nature\", \" \"]\n", "data.categories[1]", "a manifest category, e.g. \"Animals & Nature\"")]
    [InlineData("[data]\ncategories = [\"Food & Drink\", \"Animals & Nature\", \"Food & Drink\"]\n", "data.categories[2]", "a category not listed before: data.categories[0]")]
    [InlineData("[data]\naugment_crop = 0.0\n", "data.augment_crop", "a fraction of the image side in (0, 1]")]
    [InlineData("[data]\naugment_blur = -1.0\n", "data.augment_blur", "0 (no blur)")]
    [InlineData("[data]\naugment_colour = 1.0\n", "data.augment_colour", "a fraction in [0, 1)")]
    [InlineData("[data]\naugment_flip = 1.5\n", "data.augment_flip", "a probability in [0, 1]")]
    public void AnImpossibleValueNamesTheKeyAndTheExpectation(string toml, string key, string expectation)
    {
        var error = SingleError(toml);

        Assert.Equal(key, error.Key);
        Assert.Contains(expectation, error.Expected);
        Assert.Equal(File, error.Location.Source);
    }

    [Fact]
    public void AnImpossibleValueOnAWrittenKeyCarriesItsLine()
    {
        var error = SingleError("[model]\ndim = 128\n\nn_heads = 5\n");

        Assert.Equal(4, error.Location.Line);
        Assert.StartsWith("jobs/test.toml:4: model.n_heads = 5: a divisor of model.dim (128)", error.ToString());
    }

    [Theory]
    [InlineData("[train]\nbatch_size = 0\n", "0")]
    [InlineData("[optimizer]\nlr = 0.0\n", "0.0")]
    [InlineData("[optimizer]\nlr = -1e-3\n", "-0.001")]
    public void AValueIsQuotedBackAsItsTomlType(string toml, string quoted)
    {
        Assert.Equal(quoted, SingleError(toml).Value);
    }

    [Fact]
    public void AProblemWithAnUnwrittenKeySaysItIsTheDefault()
    {
        // dim 100 over the default 4 heads gives a head width of 25, odd, which rotary embeddings cannot split.
        var error = SingleError("[model]\ndim = 100\n");

        Assert.Equal("model.n_heads", error.Key);
        Assert.True(error.Location.IsDefault);
        Assert.Contains("4 (default)", error.ToString());
    }

    [Fact]
    public void EveryKeyOrTypeProblemIsReportedAtOnce()
    {
        var e = Assert.Throws<ConfigException>(() => JobConfigLoader.Parse(
            "[model]\ndim = \"wide\"\n[optimizer]\nbeta = 0.9\n", File));

        Assert.Equal(["model.dim", "optimizer.beta"], e.Errors.Select(x => x.Key));
    }

    [Fact]
    public void EveryImpossibleValueIsReportedAtOnce()
    {
        var e = Assert.Throws<ConfigException>(() => JobConfigLoader.Parse(
            "[model]\ndim = 128\nn_heads = 5\n[optimizer]\nlr = -1.0\n", File));

        Assert.Equal(["model.n_heads", "optimizer.lr"], e.Errors.Select(x => x.Key));
        Assert.Contains("2 problems", e.Message);
    }

    [Fact]
    public void ATomlSyntaxErrorNamesTheFileAndLine()
    {
        var error = SingleError("[model]\ndim = = 3\n");

        Assert.Equal(2, error.Location.Line);
        Assert.Null(error.Key);
        Assert.StartsWith("jobs/test.toml:2: TOML syntax:", error.ToString());
    }

    [Fact]
    public void AMissingFileIsAnErrorNamingIt()
    {
        var e = Assert.Throws<ConfigException>(() => JobConfigLoader.Load("no/such/config.toml"));

        Assert.Contains("no/such/config.toml", e.Message);
        Assert.Contains("not found", e.Message);
    }
}
