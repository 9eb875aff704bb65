using System.Text.Json;
using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Model.Evaluation;

namespace Forge.Host.Output;

/// <summary>
/// events.jsonl, the run's journal: job started (and resumed), checkpoints with their stall and
/// write times, messages from the job (rank losses, world re-forms, recoveries), job finished.
/// One flushed JSON object per line, each with an ISO-8601 "time" and an "event" name.
/// </summary>
public sealed class EventJournal : ITrainingObserver, IDisposable
{
    private readonly Lock _gate = new();
    private readonly FileStream _file;
    private readonly TimeProvider _clock;

    public EventJournal(string path, TimeProvider? clock = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        // Always appended: a resumed run continues the same journal.
        _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        _clock = clock ?? TimeProvider.System;
    }

    public void OnJobStarted(JobStarted info) => Append(info.StartStep > 0 ? "job_resumed" : "job_started", json =>
    {
        json.WriteString("run", info.RunName);
        json.WriteNumber("world_size", info.WorldSize);
        json.WriteNumber("start_step", info.StartStep);
        json.WriteNumber("max_steps", info.MaxSteps);
        json.WriteNumber("trainable_parameters", info.TrainableParameters);
    });

    public void OnCheckpoint(long step, double stallSeconds, double writeSeconds) => Append("checkpoint", json =>
    {
        json.WriteNumber("step", step);
        json.WriteNumber("stall_s", stallSeconds);
        json.WriteNumber("write_s", writeSeconds);
    });

    public void OnMessage(string message) => Append("message", json => json.WriteString("text", message));

    public void OnJobFinished(JobFinished info) => Append("job_finished", json =>
    {
        json.WriteNumber("final_step", info.FinalStep);
        json.WriteBoolean("completed", info.Completed);
        if (info.ResumeHint is not null) json.WriteString("resume", info.ResumeHint);
        if (info.Error is not null) json.WriteString("error", info.Error);
    });

    /// <summary>
    /// Also given every entry, as one JSON object (the job's store keeps a copy, so `forge status` shows
    /// the whole history whichever process wrote it). Must not block: it is called under the file's lock.
    /// </summary>
    public Action<string>? Mirror { get; set; }

    /// <summary>What the host itself decided (e.g. "stop requested by SIGTERM").</summary>
    public void Note(string eventName, string text) => Append(eventName, json => json.WriteString("text", text));

    public void OnStep(StepReport report) { }
    public void OnEval(long step, HeldOutLosses losses) { }

    private void Append(string eventName, Action<Utf8JsonWriter> body)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", _clock.GetUtcNow());
            json.WriteString("event", eventName);
            body(json);
            json.WriteEndObject();
        }
        var line = System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        buffer.WriteByte((byte)'\n');
        lock (_gate)
        {
            _file.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
            _file.Flush();
            // In order, under the same lock: the store's copy of the journal keeps the file's order.
            Mirror?.Invoke(line);
        }
    }

    public void Dispose()
    {
        lock (_gate) _file.Dispose();
    }
}
