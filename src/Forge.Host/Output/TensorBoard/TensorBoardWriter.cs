using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Model.Evaluation;

namespace Forge.Host.Output.TensorBoard;

/// <summary>
/// TensorBoard scalars for a run: one events.out.tfevents.* file per process start in the run's
/// tensorboard/ directory (`tensorboard --logdir runs/`), with train/loss, train/lr,
/// train/grad_norm, train/tokens_per_s, train/world_size, checkpoint/stall_s and the held-out tests:
/// eval/loss, eval/exact_match, eval/similarity (unseen names) and the same under eval_art/ (unseen art).
/// </summary>
public sealed class TensorBoardWriter : ITrainingObserver, IDisposable
{
    private readonly Lock _gate = new();
    private readonly TfRecordWriter _records;
    private readonly TimeProvider _clock;

    public TensorBoardWriter(string directory, TimeProvider? clock = null)
    {
        _clock = clock ?? TimeProvider.System;
        Directory.CreateDirectory(directory);
        var now = _clock.GetUtcNow();
        // TensorBoard's own naming; the pid keeps two processes started in the same second apart.
        FilePath = Path.Combine(directory, $"events.out.tfevents.{now.ToUnixTimeSeconds()}.{Environment.MachineName}.{Environment.ProcessId}");
        _records = new TfRecordWriter(new FileStream(FilePath, FileMode.CreateNew, FileAccess.Write, FileShare.Read));
        _records.Write(TfEventEncoder.FileVersionEvent(WallTime()));
    }

    public string FilePath { get; }

    public void OnStep(StepReport r)
    {
        (string, double)[] scalars =
        [
            ("train/loss", r.Loss),
            ("train/lr", r.LearningRate),
            ("train/grad_norm", r.GradNorm),
            ("train/tokens_per_s", r.TokensPerSecond),
            ("train/world_size", r.WorldSize),
        ];
        if (r.Routing is { } moe) scalars = [.. scalars, ("moe/aux_loss", moe.AuxLoss), ("moe/router_z_loss", moe.ZLoss)];
        Write(r.StepsDone, scalars);
    }

    public void OnEval(long step, HeldOutLosses losses)
    {
        var scalars = new List<(string Tag, double Value)>();
        if (losses.UnseenNames is { } names) scalars.Add(("eval/loss", names));
        if (losses.UnseenArt is { } art) scalars.Add(("eval_art/loss", art));
        Write(step, [.. scalars]);
    }

    /// <summary>The end-of-run caption scores of the checkpoint committed at `step` (steps done).</summary>
    public void OnCaptionScores(long step, HeldOutScores scores) => Write(step,
    [
        .. Scores("eval", scores.UnseenNames),
        .. Scores("eval_art", scores.UnseenArt),
    ]);

    private static (string Tag, double Value)[] Scores(string prefix, CaptionScores? scores) => scores is null
        ? []
        : [($"{prefix}/exact_match", scores.ExactMatch), ($"{prefix}/similarity", scores.Similarity)];

    public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) =>
        Write(step, [("checkpoint/stall_s", stallSeconds), ("checkpoint/write_s", writeSeconds)]);

    public void OnJobStarted(JobStarted info) { }
    public void OnMessage(string message) { }
    public void OnJobFinished(JobFinished info) { }

    private void Write(long step, (string Tag, double Value)[] scalars)
    {
        var record = TfEventEncoder.ScalarsEvent(WallTime(), step, scalars.Select(s => (s.Tag, (float)s.Value)));
        lock (_gate) _records.Write(record);
    }

    private double WallTime() => _clock.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;

    public void Dispose()
    {
        lock (_gate) _records.Dispose();
    }
}
