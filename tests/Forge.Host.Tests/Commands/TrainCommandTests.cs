using System.Text.Json;
using Forge.Host.Commands;
using Forge.Host.Output;
using Forge.Model.Tests.Data;

namespace Forge.Host.Tests.Commands;

public sealed class TrainCommandTests
{
    [Fact]
    public async Task TrainingAgainMovesTheEarlierRunAsideAndWritesTheResolvedConfig()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("job.toml"), "run_name = \"again\"\n[train]\nmax_steps = 3\n");
        var run = RunDirectory.For(dir.File("runs"), "again");
        run.Create();
        File.WriteAllText(run.Metrics, "{\"step\": 1, \"loss\": 9.0}\n");

        // The job itself is not part of this test; whatever it returns, the run directory is prepared first.
        await TrainCommand.RunAsync(dir.File("job.toml"), ["train.max_steps=4"], 1, dir.File("runs"), null, RecordingConsole.Create(new StringWriter()));

        var archived = Assert.Single(Directory.GetDirectories(dir.File("runs")).Where(d => Path.GetFileName(d).StartsWith("again.")));
        Assert.Equal("{\"step\": 1, \"loss\": 9.0}\n", File.ReadAllText(Path.Combine(archived, "metrics.jsonl")));
        Assert.Contains("max_steps = 4", File.ReadAllText(run.ResolvedConfig));
    }

    /// <summary>
    /// The whole production path on two CPU ranks with a tiny model: the held-out manifest opened by the
    /// job's services, evaluated by the engines on eval steps, logged by the supervisor, and captioned
    /// from the final checkpoint.
    /// </summary>
    [Fact]
    public async Task TrainingLogsBothHeldOutLossesEveryEvalIntervalAndEndsWithScoredCaptionsAndASheet()
    {
        using var dir = new TempDirectory();
        using var data = new TemporaryFolder();
        var train = TestDataSets.WriteNumbered(data, "train.jsonl", 8, imageSize: 8);
        var heldOut = TestDataSets.WriteManifest(data, "eval.jsonl", [("red heart", null), ("blue car", null), ("green tree", null)], imageSize: 8);
        // Other art: two training names, and a name training lacks that the unseen-art test must leave out.
        var art = TestDataSets.WriteManifest(data, "art.jsonl", [("sample 1", null), ("sample 6", null), ("yellow sun", null)], imageSize: 8);
        File.WriteAllText(dir.File("tiny.toml"), $"""
            run_name = "tiny"
            [model]
            dim = 16
            n_layers = 2
            n_heads = 2
            vocab_size = 264
            max_seq_len = 16
            [vlm]
            max_text_len = 12
            cross_attention_every_n_layers = 2
            freeze = []
            [vision_encoder]
            type = "vit"
            feature_dim = 8
            image_size = 8
            patch_size = 4
            num_tokens = 4
            n_layers = 1
            n_heads = 2
            [data]
            manifest = "{train}"
            eval_manifest = "{heldOut}"
            unseen_art_manifest = "{art}"
            image_size = 8
            num_workers = 1
            [train]
            batch_size = 2
            global_batch_size = 4
            max_steps = 5
            mixed_precision = "fp32"
            eval_interval = 2
            eval_batches = 1
            generate_samples = 2
            """);
        var output = new StringWriter();

        var code = await TrainCommand.RunAsync(dir.File("tiny.toml"), [], 2, dir.File("runs"), null, RecordingConsole.Create(output));

        Assert.True(code == 0, output.ToString());
        var run = RunDirectory.For(dir.File("runs"), "tiny");
        var metrics = MetricsLog.Read(run.Metrics);
        var evals = metrics.Where(p => p.EvalLoss is not null).ToArray();
        Assert.Equal([2L, 4L, 5L], evals.Select(p => p.Step));   // every 2nd step done, and the last
        Assert.All(evals, p => Assert.InRange(p.EvalLoss!.Value, 0.01, 20));
        Assert.All(evals, p => Assert.InRange(p.EvalArtLoss!.Value, 0.01, 20));
        var scores = Assert.Single(metrics, p => p.HasCaptionScores);
        Assert.Equal(5, scores.Step);
        Assert.All([scores.EvalExactMatch, scores.EvalSimilarity, scores.EvalArtExactMatch, scores.EvalArtSimilarity],
            v => Assert.InRange(v!.Value, 0, 1));

        // Every captioned row is saved with its test (train.score_samples = 64 covers both small sets).
        var captions = File.ReadAllLines(run.Captions).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.All(captions, c => Assert.Equal(5, c.GetProperty("step").GetInt64()));
        var byTest = captions.ToLookup(c => c.GetProperty("test").GetString(), c => c.GetProperty("reference").GetString());
        Assert.Equal(["sample 1", "sample 6"], byTest["unseen art"].Order());
        Assert.Equal(["blue car", "green tree", "red heart"], byTest["unseen names"].Order());
        var text = output.ToString();
        Assert.Contains("Held-out tests", text);
        Assert.Contains("Captions for held-out images:", text);
        Assert.True(File.Exists(run.CaptionSheet));
    }

    [Fact]
    public async Task ResumingADirectoryWithoutAResolvedConfigIsAnError()
    {
        using var dir = new TempDirectory();
        var output = new StringWriter();

        var code = await ResumeCommand.RunAsync(dir.Path, 1, [], null, RecordingConsole.Create(output));

        Assert.Equal(2, code);
        Assert.Contains("config.resolved.toml does not exist", output.ToString());
    }
}
