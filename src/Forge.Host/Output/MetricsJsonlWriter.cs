using System.Text.Json;
using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Model.Evaluation;

namespace Forge.Host.Output;

/// <summary>
/// metrics.jsonl: one JSON object per logged step (step, loss, lr, grad_norm, tokens,
/// tokens_per_s, world_size, wall_s, step_s, memory_step (with buddy replicas: the newest step every shard has a copy of)
/// and the slowest rank's phase timings; for MoE models also
/// moe_aux_loss, moe_router_z_loss and moe_tokens_per_expert, one array per MoE layer; skipped on a diverged step), one per eval
/// (step, eval_loss for the unseen-names test, eval_art_loss for the unseen-art test, wall_s) and one
/// with the end-of-run caption scores (step, eval_exact_match, eval_similarity, eval_captioned and the
/// same with eval_art_, wall_s); a test that is not configured has no keys. "step" counts steps done; "wall_s" is the time since this process
/// started the job, "step_s" the logged step's own duration. Each line is flushed as it is written, so a crash loses nothing
/// already reported and a reader can follow the file while the job runs.
/// </summary>
public sealed class MetricsJsonlWriter : ITrainingObserver, IDisposable
{
    private readonly Lock _gate = new();
    private readonly FileStream _file;
    private readonly MemoryStream _line = new();
    private readonly JobClock _clock;

    public MetricsJsonlWriter(string path, bool append, TimeProvider? clock = null)
    {
        _clock = new JobClock(clock);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _file = new FileStream(path, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.Read);
    }

    public void OnStep(StepReport r)
    {
        var t = r.SlowestRank;
        Write(json =>
        {
            json.WriteNumber("step", r.StepsDone);
            Number(json, "loss", r.Loss);
            Number(json, "lr", r.LearningRate);
            Number(json, "grad_norm", r.GradNorm);
            json.WriteNumber("tokens", r.Tokens);
            Number(json, "tokens_per_s", r.TokensPerSecond);
            json.WriteNumber("world_size", r.WorldSize);
            Number(json, "wall_s", _clock.ElapsedSeconds);
            Number(json, "step_s", r.WallSeconds);
            if (r.MemoryStep is { } memory) json.WriteNumber("memory_step", memory);
            json.WriteStartObject("slowest_rank_s");
            Number(json, "data", t.Data);
            Number(json, "compute", t.Compute);
            Number(json, "reduce_scatter", t.ReduceScatter);
            Number(json, "optimizer", t.Optimizer);
            Number(json, "all_gather", t.AllGather);
            Number(json, "total", t.Total);
            json.WriteEndObject();
            if (r.Routing is { } moe)
            {
                Number(json, "moe_aux_loss", moe.AuxLoss);
                Number(json, "moe_router_z_loss", moe.ZLoss);
                json.WriteStartArray("moe_tokens_per_expert");
                foreach (var layer in moe.TokensPerExpert)
                {
                    json.WriteStartArray();
                    foreach (var count in layer) json.WriteNumberValue(count);
                    json.WriteEndArray();
                }
                json.WriteEndArray();
            }
            // Only on a diverged step, whose update no rank applied: every other line keeps its shape.
            if (r.Skipped) json.WriteBoolean("skipped", true);
        });
    }

    public void OnEval(long step, HeldOutLosses losses) => Write(json =>
    {
        json.WriteNumber("step", step);
        if (losses.UnseenNames is { } names) Number(json, "eval_loss", names);
        if (losses.UnseenArt is { } art) Number(json, "eval_art_loss", art);
        Number(json, "wall_s", _clock.ElapsedSeconds);
    });

    /// <summary>The end-of-run caption scores of the checkpoint committed at `step` (steps done).</summary>
    public void OnCaptionScores(long step, HeldOutScores scores) => Write(json =>
    {
        json.WriteNumber("step", step);
        Scores(json, "eval", scores.UnseenNames);
        Scores(json, "eval_art", scores.UnseenArt);
        Number(json, "wall_s", _clock.ElapsedSeconds);
    });

    private static void Scores(Utf8JsonWriter json, string prefix, CaptionScores? scores)
    {
        if (scores is null) return;
        Number(json, $"{prefix}_exact_match", scores.ExactMatch);
        Number(json, $"{prefix}_similarity", scores.Similarity);
        json.WriteNumber($"{prefix}_captioned", scores.Samples);
    }

    public void OnJobStarted(JobStarted info)
    {
        lock (_gate) _clock.Start(info);
    }

    public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) { }
    public void OnMessage(string message) { }
    public void OnJobFinished(JobFinished info) { }

    private void Write(Action<Utf8JsonWriter> body)
    {
        lock (_gate)
        {
            _line.SetLength(0);
            using (var json = new Utf8JsonWriter(_line))
            {
                json.WriteStartObject();
                body(json);
                json.WriteEndObject();
            }
            _line.WriteByte((byte)'\n');
            // One write per line: a reader never sees half an object unless the process dies mid-write.
            _file.Write(_line.GetBuffer(), 0, (int)_line.Length);
            _file.Flush();
        }
    }

    /// <summary>A diverged run reports NaN or infinity; JSON has no such numbers, so they are written as the strings .NET reads back.</summary>
    private static void Number(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value)) json.WriteNumber(name, value);
        else json.WriteString(name, value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    public void Dispose()
    {
        lock (_gate) _file.Dispose();
    }
}
