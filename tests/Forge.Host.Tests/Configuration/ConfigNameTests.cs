using System.Text.RegularExpressions;
using Forge.Actors.Checkpointing;
using Forge.Actors.Checkpointing.Export;
using Forge.Actors.Collectives;
using Forge.Host.Configuration;
using Forge.Model.Config;
using Forge.Model.Modeling;
using Forge.Model.Modeling.Adapters;
using Forge.Model.Optim;
using Forge.Model.Text;
using static TorchSharp.torch;

namespace Forge.Host.Tests.Configuration;

/// <summary>
/// For every key that names a choice, the names config validation accepts are exactly the names the
/// code acting on the key handles. Each is tried with every name its owner lists plus near misses
/// (an alias someone might expect, an unknown word). Every dispatch site, Forge.Actors' CollectiveBackends
/// and ExportDType included, switches on the owners' constants, so no site accepts a name validation refuses.
/// </summary>
public sealed class ConfigNameTests
{
    public static TheoryData<string> Keys() =>
    [
        "vlm.arch", "vision_encoder.type", "adapter.type", "adapter.activation", "scheduler.name", "optimizer.name",
        "data.tokenizer", "data.emoji_vendor", "checkpoint.store", "checkpoint.export_dtype", "distributed.backend",
        "train.mixed_precision",
    ];

    [Theory]
    [MemberData(nameof(Keys))]
    public void ValidationAcceptsExactlyTheNamesTheCodeHandles(string key)
    {
        var (owned, nearMisses, handles) = NameSet(key);
        var mismatched = owned.Concat(nearMisses)
            .Select(name => (Name: name, Accepted: ValidationAccepts(key, name), Handled: handles(name)))
            .Where(c => c.Accepted != c.Handled)
            .Select(c => $"{key} = \"{c.Name}\": validation {(c.Accepted ? "accepts" : "refuses")} it, the code {(c.Handled ? "handles" : "refuses")} it")
            .ToList();

        Assert.Empty(mismatched);
        Assert.All(owned, name => Assert.True(handles(name), $"{key} = \"{name}\" is listed but not handled"));
    }

    [Fact]
    public void PostgresIsRefusedWithPostgresqlSuggested()
    {
        var e = Assert.Throws<ConfigException>(() => JobConfigLoader.Parse("[checkpoint]\nstore = \"postgres\"\n", "names.toml"));

        var error = Assert.Single(e.Errors);
        Assert.Equal("checkpoint.store", error.Key);
        Assert.Contains("did you mean \"postgresql\"?", error.Expected);
        Assert.Throws<ArgumentException>(() => CheckpointStoreSettings.FromConfig(new CheckpointConfig { Store = "postgres", ConnectionString = "Host=db" }, "runs/x"));
    }

    /// <summary>The owner's names, near misses, and whether the code acting on the key handles a name.</summary>
    private static (IReadOnlyList<string> Owned, string[] NearMisses, Func<string, bool> Handles) NameSet(string key) => key switch
    {
        "vlm.arch" => ([.. VlmRegistry.Names], ["crossattention", "llava"], name => Builds(TinyConfig() with { Vlm = TinyConfig().Vlm with { Arch = name } })),
        // A pretrained tower also needs vision_encoder.path (another key's check): the registry handles the name
        // when it does not refuse it as unknown.
        "vision_encoder.type" => (VisionEncoderConfig.Types, ["dino", "sam"],
            name => KnowsName(() => VlmRegistry.Build(TinyConfig() with { VisionEncoder = TinyConfig().VisionEncoder with { Type = name } }, CPU, ScalarType.Float32).Dispose())),
        "adapter.type" => (AdapterConfig.Types, ["mlp", "identity"], name => Handles(() => VisionAdapter.Create(new AdapterConfig { Type = name }, 8, 8, CPU).Dispose())),
        "adapter.activation" => (AdapterConfig.Activations, ["tanh", "swiglu"],
            name => Handles(() => VisionAdapter.Create(new AdapterConfig { Activation = name }, 8, 8, CPU).Dispose())),
        "scheduler.name" => (SchedulerConfig.Names, ["cos", "step"], name => Handles(() => new LrSchedule(new SchedulerConfig { Name = name }, 1e-3, 100))),
        "optimizer.name" => (OptimizerConfig.Names, ["adam", "sgd"], name => Handles(() => new ShardedAdamW(zeros(4), new OptimizerConfig { Name = name }).Dispose())),
        "data.tokenizer" => (TokenizerCatalog.Names, ["bytes", "gpt2"], name => Handles(() => TokenizerCatalog.Create(name))),
        "data.emoji_vendor" => (DataConfig.EmojiVendors, ["samsung", "noto"], FetchEmojiConverts),
        "checkpoint.store" => (CheckpointConfig.Stores, ["postgres", "mysql"],
            name => Handles(() => CheckpointStoreSettings.FromConfig(new CheckpointConfig { Store = name, ConnectionString = "Host=db" }, "runs/x"))),
        "checkpoint.export_dtype" => (CheckpointConfig.ExportDtypes, ["float16", "int8"], name => Handles(() => ExportDType.Parse(name))),
        "distributed.backend" => (DistributedConfig.Backends, ["gloo", "mpi"], BackendHandles),
        "train.mixed_precision" => (TrainConfig.MixedPrecisions, ["fp16", "bfloat16"],
            name => Handles(() => MixedPrecision.ComputeDType(new TrainConfig { MixedPrecision = name }, CPU))),
        _ => throw new ArgumentOutOfRangeException(nameof(key), key, "no name set for this key"),
    };

    /// <summary>Accepted when loading a config that sets the key reports no problem with that key.</summary>
    private static bool ValidationAccepts(string key, string name)
    {
        var dot = key.IndexOf('.');
        try
        {
            JobConfigLoader.Parse($"[{key[..dot]}]\n{key[(dot + 1)..]} = \"{name}\"\n", "names.toml");
            return true;
        }
        catch (ConfigException e)
        {
            return e.Errors.All(error => error.Key != key);
        }
    }

    private static bool Handles(Action act)
    {
        try
        {
            act();
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static bool KnowsName(Action dispatch)
    {
        try
        {
            dispatch();
            return true;
        }
        catch (ArgumentException e)
        {
            return !e.Message.Contains("is unknown", StringComparison.Ordinal);
        }
    }

    private static bool Builds(JobConfig config) => Handles(() => VlmRegistry.Build(config, CPU, ScalarType.Float32).Dispose());

    /// <summary>The NCCL backend cannot be made on a CPU rank, but its refusal names CUDA, not an unknown backend.</summary>
    private static bool BackendHandles(string name)
    {
        try
        {
            CollectiveBackends.For(new DistributedConfig { Backend = name }, CPU, "127.0.0.1");
            return true;
        }
        catch (ArgumentException e)
        {
            return e.Message.Contains("needs CUDA", StringComparison.Ordinal);
        }
    }

    /// <summary>The vendors scripts/fetch-emoji.sh converts: the accepted arm of its `case "$vendor"`.</summary>
    private static bool FetchEmojiConverts(string name)
    {
        var script = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "scripts", "fetch-emoji.sh"));
        var arm = Regex.Match(script, @"case ""\$vendor"" in\s+([a-z0-9|-]+)\)");
        Assert.True(arm.Success, "scripts/fetch-emoji.sh has no `case \"$vendor\" in` with a list of vendors");
        return arm.Groups[1].Value.Split('|').Contains(name);
    }

    /// <summary>A model small enough to build in milliseconds, with either vision encoder.</summary>
    private static JobConfig TinyConfig() => new()
    {
        Model = new ModelConfig { Dim = 32, NLayers = 2, NHeads = 2, VocabSize = 300, MaxSeqLen = 64 },
        Vlm = new VlmConfig { MaxTextLen = 8, CrossAttentionEveryNLayers = 1 },
        VisionEncoder = new VisionEncoderConfig { FeatureDim = 16, NHeads = 2, NLayers = 1, ImageSize = 16, PatchSize = 8, NumTokens = 4 },
    };
}
