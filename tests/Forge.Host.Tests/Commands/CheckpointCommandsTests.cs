using Forge.Actors.Checkpointing;
using Forge.Host.Commands;
using Forge.Host.Configuration;
using Forge.Host.Hosting;
using Forge.Host.Output;
using Forge.Model.Optim;
using Forge.Model.Safetensors;
using Forge.Model.Training;

namespace Forge.Host.Tests.Commands;

/// <summary>The checkpoint commands against a real SQLite store in a run directory.</summary>
public sealed class CheckpointCommandsTests
{
    private static readonly FlatLayoutInfo Layout = new(
        [new FlatParameter("a.weight", [2, 3], 0, 6), new FlatParameter("b.bias", [4], 6, 4)], Numel: 10, PaddedNumel: 10);

    /// <summary>A run whose store holds one committed checkpoint at step 5 with master weights 0.5, 1.5, ..., 9.5.</summary>
    private static async Task<RunDirectory> RunWithCheckpoint(TempDirectory dir)
    {
        var config = JobConfigLoader.Parse("run_name = \"ck\"\n", "ck.toml");
        var run = new RunDirectory(dir.File("ck"));
        JobConfigWriter.Save(config, run.Path);
        var store = await JobBackend.OpenCheckpointStoreAsync(config, run, CancellationToken.None);
        try
        {
            var master = Enumerable.Range(0, 10).Select(i => i + 0.5f).ToArray();
            var receipt = await store.SaveShardAsync("ck", 5, 0, new OptimizerShard(0, 10, master, new float[10], new float[10], Step: 5));
            await store.CommitAsync(new CheckpointManifest
            {
                JobId = "ck", Step = 5, WorldSize = 1, Layout = Layout, Shards = [receipt], DataEpoch = 0, DataPosition = 80,
                SamplesConsumed = 80, RngSeed = 42, SchedulerStep = 5, FrozenParameters = [], ModelConfigHash = "",
                CommittedAt = DateTimeOffset.UtcNow,
            });
        }
        finally
        {
            await JobBackend.CloseAsync(store);
        }
        return run;
    }

    private static int Invoke(params string[] args) =>
        ForgeCli.Create().Parse(args).Invoke(ForgeCli.Invocation(new StringWriter(), new StringWriter()));

    [Fact]
    public async Task ExportWritesTheCommittedWeightsUnderTheirParameterNames()
    {
        using var dir = new TempDirectory();
        var run = await RunWithCheckpoint(dir);
        var path = dir.File("weights.safetensors");

        Assert.Equal(0, Invoke("checkpoints", "export", run.Path, "-o", path, "--dtype", "float32"));

        using var reader = new SafetensorsReader(path);
        using var a = reader.Read("a.weight");
        using var b = reader.Read("b.bias");
        Assert.Equal([2L, 3L], a.shape);
        Assert.Equal([0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f], a.data<float>().ToArray());
        Assert.Equal([6.5f, 7.5f, 8.5f, 9.5f], b.data<float>().ToArray());
    }

    [Fact]
    public async Task ExportingAStepThatWasNeverCommittedFails()
    {
        using var dir = new TempDirectory();
        var run = await RunWithCheckpoint(dir);

        Assert.Equal(2, Invoke("checkpoints", "export", run.Path, "--step", "6", "-o", dir.File("x.safetensors")));
        Assert.False(File.Exists(dir.File("x.safetensors")));
    }

    [Fact]
    public async Task ListSucceedsOnARunWithAStore()
    {
        using var dir = new TempDirectory();
        var run = await RunWithCheckpoint(dir);

        Assert.Equal(0, Invoke("checkpoints", "list", run.Path));
        Assert.Equal(2, Invoke("checkpoints", "list", dir.File("not-a-run")));
    }

    [Fact]
    public async Task StatusReadsTheLastCheckpointFromTheStore()
    {
        using var dir = new TempDirectory();
        var run = await RunWithCheckpoint(dir);
        var output = new StringWriter();

        Assert.Equal(0, await StatusCommand.RunAsync(run.Path, RecordingConsole.Create(output)));
        Assert.Contains("step 5, 1 shard(s), 10 parameters", output.ToString());
    }

    [Fact]
    public async Task ImportedWeightsAreCommittedAsStepZeroAndExportBackUnchanged()
    {
        using var dir = new TempDirectory();
        const string tiny = """
            run_name = "imported"
            [model]
            dim = 16
            n_layers = 2
            n_heads = 2
            vocab_size = 264
            max_seq_len = 16
            [vlm]
            max_text_len = 8
            cross_attention_every_n_layers = 2
            freeze = []
            [vision_encoder]
            type = "random"
            feature_dim = 8
            num_tokens = 4
            """;
        var config = JobConfigLoader.Parse(tiny, "tiny.toml");
        var run = new RunDirectory(dir.File("imported"));
        JobConfigWriter.Save(config, run.Path);
        var source = dir.File("source.safetensors");
        using (var model = Forge.Model.Modeling.VlmRegistry.Build(config, TorchSharp.torch.CPU, TorchSharp.torch.ScalarType.Float32))
            SafetensorsWriter.Save(source, model.Module.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, (TorchSharp.torch.Tensor)p.parameter)));

        Assert.Equal(0, Invoke("checkpoints", "import", run.Path, source));
        Assert.Equal(0, Invoke("checkpoints", "export", run.Path, "-o", dir.File("back.safetensors"), "--dtype", "float32"));

        using var original = new SafetensorsReader(source);
        using var exported = new SafetensorsReader(dir.File("back.safetensors"));
        Assert.Equal(original.Entries.Select(e => e.Name).Order(), exported.Entries.Select(e => e.Name).Order());
        foreach (var entry in original.Entries)
        {
            using var expected = original.Read(entry.Name);
            using var actual = exported.Read(entry.Name);
            Assert.Equal(expected.shape, actual.shape);
            Assert.Equal(expected.data<float>().ToArray(), actual.data<float>().ToArray());
        }
        var status = new StringWriter();
        await StatusCommand.RunAsync(run.Path, RecordingConsole.Create(status));
        Assert.Contains("step 0, 1 shard(s)", status.ToString());
    }

    [Fact]
    public async Task StatusLeavesNoDatabaseInARunWithoutOne()
    {
        using var dir = new TempDirectory();
        var run = new RunDirectory(dir.File("empty"));
        JobConfigWriter.Save(JobConfigLoader.Parse("run_name = \"empty\"\n", "e.toml"), run.Path);

        Assert.Equal(0, await StatusCommand.RunAsync(run.Path, RecordingConsole.Create(new StringWriter())));
        Assert.False(File.Exists(run.CheckpointDatabase));
    }
}
