using Forge.Actors.Checkpointing;
using Forge.Host.Commands;
using Forge.Host.Configuration;
using Forge.Host.Hosting;
using Forge.Host.Output;
using Forge.Model.Modeling;
using Forge.Model.Optim;
using Forge.Model.Pretrained;
using Forge.Model.Safetensors;
using static TorchSharp.torch;

namespace Forge.Host.Tests.Pretrained;

/// <summary>checkpoint.load_path with the tiny HF Llama of tests/Fixtures/hf: the config it implies, and the HF export back.</summary>
public sealed class PretrainedStartTests
{
    private static string Llama => Path.Combine(RepositoryPaths.Root, "tests", "Fixtures", "hf", "llama");

    private static string Toml(string extra = "") => $"""
        run_name = "hf"
        [vlm]
        cross_attention_every_n_layers = 1
        max_text_len = 16
        [vision_encoder]
        type = "random"
        feature_dim = 16
        num_tokens = 4
        [checkpoint]
        load_path = "{Llama}"
        {extra}
        """;

    [Fact]
    public void AHuggingFaceLoadPathSuppliesTheModelSectionFromItsConfigJson()
    {
        var config = JobConfigLoader.Parse(Toml(), "hf.toml");

        Assert.Equal(32, config.Model.Dim);
        Assert.Equal(2, config.Model.NLayers);
        Assert.Equal(2, config.Model.ResolvedKvHeads);
        Assert.Equal(384, config.Model.VocabSize);
        Assert.Equal(64, config.Model.ResolvedFfnHiddenDim);
        Assert.Equal(50000.0, config.Model.RopeTheta);
        // A shorter max_seq_len only trims the RoPE tables.
        Assert.Equal(64, JobConfigLoader.Parse(Toml() + "\n[model]\nmax_seq_len = 64\n", "hf.toml").Model.MaxSeqLen);
    }

    [Fact]
    public void AModelKeyThatContradictsTheConfigJsonIsAnErrorNamingBoth()
    {
        var e = Assert.Throws<ConfigException>(() => JobConfigLoader.Parse(Toml() + "\n[model]\ndim = 64\n", "hf.toml"));
        var error = Assert.Single(e.Errors);
        Assert.Equal("model.dim", error.Key);
        Assert.Contains("32, the pretrained model's hidden_size", error.Expected);
    }

    [Fact]
    public void AMissingLoadPathIsAConfigErrorNamingIt()
    {
        var e = Assert.Throws<ConfigException>(() => JobConfigLoader.Parse("[checkpoint]\nload_path = \"/nowhere/model\"\n", "x.toml"));
        var error = Assert.Single(e.Errors);
        Assert.Equal("checkpoint.load_path", error.Key);
        Assert.Contains("an existing safetensors file or Hugging Face model directory", error.Expected);
    }

    [Fact]
    public void TheTrainingStartPlanNamesLoadedAndKeptParameters()
    {
        var plan = JobBackend.PlanPretrainedLoad(JobConfigLoader.Parse(Toml(), "hf.toml"))!;
        var lines = plan.Lines().ToList();

        Assert.StartsWith($"weights from {Llama}: 21 parameter(s) loaded", lines[0]);
        Assert.Contains("  loaded: transformer.layers.{0-1}.attention.q_proj.weight", lines);
        Assert.Contains("  kept init: transformer.cross_attention_layers.{0-1}.attn.o_proj.weight", lines);
        Assert.Contains("  kept init: adapter.proj1.weight", lines);
    }

    [Fact]
    public async Task AnHfExportOfACheckpointLoadsBackWithTheSameLogitsAndConfig()
    {
        using var dir = new TempDirectory();
        var config = JobConfigLoader.Parse(Toml(), "hf.toml");
        var run = new RunDirectory(dir.File("hf"));
        JobConfigWriter.Save(config, run.Path);

        // The run's step-0 state: the fixture's weights over a fresh CA model, every parameter trained.
        using (var model = VlmRegistry.Build(config, CPU, ScalarType.Float32))
        {
            PretrainedWeights.Load(model, Llama, []);
            var layout = FlatParameterLayout.For(model, worldSize: 1);
            using var flat = layout.Gather(model, ScalarType.Float32, CPU);
            var master = flat.data<float>().ToArray();
            var store = await JobBackend.OpenCheckpointStoreAsync(config, run, CancellationToken.None);
            try
            {
                var n = master.Length;
                var receipt = await store.SaveShardAsync("hf", 0, 0, new OptimizerShard(0, n, master, new float[n], new float[n], Step: 0));
                await store.CommitAsync(new CheckpointManifest
                {
                    JobId = "hf", Step = 0, WorldSize = 1, Layout = layout.Info, Shards = [receipt], DataEpoch = 0, DataPosition = 0,
                    SamplesConsumed = 0, RngSeed = 42, SchedulerStep = 0, FrozenParameters = [], ModelConfigHash = "",
                    CommittedAt = DateTimeOffset.UtcNow,
                });
            }
            finally
            {
                await JobBackend.CloseAsync(store);
            }
        }

        var export = dir.File("export");
        var rc = ForgeCli.Create().Parse(["checkpoints", "export", run.Path, "--format", "hf", "--dtype", "float32", "-o", export])
            .Invoke(ForgeCli.Invocation(new StringWriter(), new StringWriter()));
        Assert.Equal(0, rc);

        // The same tensor names as transformers' own save, and the same config.
        using (var ours = SafetensorsCheckpoint.Open(export))
        using (var theirs = SafetensorsCheckpoint.Open(Llama))
            Assert.Equal(theirs.Names, ours.Names);
        Assert.Equal(HfLlamaConfig.Read(Llama).Model with { InitStd = 0.02 }, HfLlamaConfig.Read(export).Model);

        using var reloaded = VlmRegistry.Build(config with { Train = config.Train with { Seed = 5 } }, CPU, ScalarType.Float32);
        PretrainedWeights.Load(reloaded, export, []);
        using var reference = new SafetensorsReader(Path.Combine(RepositoryPaths.Root, "tests", "Fixtures", "hf", "reference", "llama.safetensors"));
        using var ids = reference.Read("input_ids");
        using var expected = reference.Read("llama.logits");
        using var noGrad = no_grad();
        using var logits = reloaded.transformer.output_head.forward(reloaded.transformer.Hidden(reloaded.transformer.token_embedding.forward(ids)));
        Assert.True((logits - expected).abs().max().item<float>() < 1e-4f);
    }
}
