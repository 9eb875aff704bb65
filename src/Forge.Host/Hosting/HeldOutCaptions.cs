using Forge.Actors.Checkpointing;
using Forge.Host.Output;
using Forge.Model.Config;
using Forge.Model.Data;
using Forge.Model.Evaluation;
using Forge.Model.Modeling;
using static TorchSharp.torch;

namespace Forge.Host.Hosting;

/// <summary>
/// What `forge train` and `forge resume` show at the end: the held-out tests (unseen art, unseen names)
/// scored by the run's latest committed checkpoint. Each test reports its eval loss over the rows
/// training evaluates, and greedy captions of its first max(train.generate_samples, train.score_samples)
/// images, scored over the first train.score_samples. The weights are the checkpoint's fp32 masters in a
/// CPU fp32 build of the configured model, so the results are those of the state a resume would start
/// from, whatever world size or device trained it. The images follow the held-out evaluation order:
/// seeded, so a spread over the set, and the same in every run.
/// </summary>
internal static class HeldOutCaptions
{
    /// <summary>Rows per greedy-captioning batch: bounds the memory of a whole-set report.</summary>
    private const int CaptionBatch = 64;

    /// <summary>
    /// Null when the report is off (train.generate_samples and train.score_samples both 0, or neither
    /// data.eval_manifest nor data.unseen_art_manifest set) or nothing is committed.
    /// </summary>
    public static async Task<HeldOutReport?> FromLatestCheckpointAsync(JobConfig config, RunDirectory run, CancellationToken ct)
    {
        var train = config.Train;
        if (train.GenerateSamples == 0 && train.ScoreSamples == 0) return null;
        if (string.IsNullOrWhiteSpace(config.Data.EvalManifest) && string.IsNullOrWhiteSpace(config.Data.UnseenArtManifest)) return null;

        var store = await JobBackend.OpenCheckpointStoreAsync(config, run, ct);
        CheckpointManifest? manifest;
        float[] master;
        try
        {
            manifest = await store.LatestAsync(config.RunName, ct);
            if (manifest is null) return null;
            master = (await store.LoadRangeAsync(manifest, 0, manifest.Layout.Numel, ct)).Master;
        }
        finally
        {
            await JobBackend.CloseAsync(store);
        }

        using var model = VlmRegistry.Build(config, CPU, ScalarType.Float32);
        LoadMasterWeights(model.Module, manifest, master);
        var tests = new List<HeldOutTestReport>();
        if (HeldOutTests.UnseenArt(config) is { } art)
            tests.Add(Score(HeldOutTestReport.UnseenArt, $"{config.Data.UnseenArtManifest}: training names, other art", art, model, train));
        if (HeldOutTests.UnseenNames(config) is { } names)
            tests.Add(Score(HeldOutTestReport.UnseenNames, $"{config.Data.EvalManifest}: names never trained on", names, model, train));
        return new HeldOutReport(manifest.Step, tests);
    }

    private static HeldOutTestReport Score(string name, string description, HeldOutEvaluator test, ITrainableModel model, TrainConfig train)
    {
        var loss = test.Evaluate(model, CPU, train.BatchSize, train.EvalBatches);
        var count = Math.Min(test.Rows.Count, Math.Max(train.GenerateSamples, train.ScoreSamples));
        var captioner = new GreedyCaptioner(test.HeldOut);
        var captions = test.Rows.Take(count).Chunk(CaptionBatch).SelectMany(rows => captioner.Generate(model, rows, CPU)).ToList();
        var scored = captions.Take(train.ScoreSamples).ToList();
        return new HeldOutTestReport(name, description, double.IsFinite(loss.MeanLoss) ? loss.MeanLoss : null,
            scored.Count > 0 ? CaptionScores.Of(scored) : null, captions, Math.Min(train.GenerateSamples, captions.Count));
    }

    /// <summary>
    /// Copies each parameter of the manifest's flat layout into the module's parameter of that name.
    /// Parameters outside the layout (frozen ones) keep the values the seeded build gave them, as in training.
    /// </summary>
    internal static void LoadMasterWeights(nn.Module module, CheckpointManifest manifest, float[] master)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var parameters = module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var flat = tensor(master);
        foreach (var entry in manifest.Layout.Parameters)
        {
            if (!parameters.TryGetValue(entry.Name, out var parameter))
                throw new InvalidOperationException(
                    $"the checkpoint at step {manifest.Step} holds parameter '{entry.Name}', which the configured model does not have");
            if (!parameter.shape.SequenceEqual(entry.Shape))
                throw new InvalidOperationException(
                    $"the checkpoint at step {manifest.Step} holds '{entry.Name}' with shape [{string.Join(", ", entry.Shape)}], " +
                    $"the configured model [{string.Join(", ", parameter.shape)}]");
            parameter.copy_(flat.narrow(0, entry.Offset, entry.Numel).view(entry.Shape));
        }
    }
}
