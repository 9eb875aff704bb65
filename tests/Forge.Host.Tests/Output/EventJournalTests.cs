using Forge.Actors.Protocol;
using Forge.Actors.Training;
using Forge.Host.Output;

namespace Forge.Host.Tests.Output;

public sealed class EventJournalTests
{
    [Fact]
    public void TheJournalRecordsALifecycleInOrderAndReadsBack()
    {
        using var dir = new TempDirectory();
        var at = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        using (var journal = new EventJournal(dir.File("events.jsonl"), new FixedClock(at)))
        {
            journal.OnJobStarted(new JobStarted("r", 2, 0, 100, 12345));
            journal.OnCheckpoint(50, 0.25, 1.5);
            journal.OnMessage("rank 1 lost; re-forming the world with 1 rank");
            journal.OnJobFinished(new JobFinished(60, false, "forge resume runs/r", null));
        }
        using (var resumed = new EventJournal(dir.File("events.jsonl"), new FixedClock(at)))
            resumed.OnJobStarted(new JobStarted("r", 1, 50, 100, 12345));

        var entries = JournalEntry.ReadAll(dir.File("events.jsonl"));

        Assert.Equal(["job_started", "checkpoint", "message", "job_finished", "job_resumed"], entries.Select(e => e.Event));
        Assert.All(entries, e => Assert.Equal(at, e.Time));
        Assert.Equal(2, entries[0].Integer("world_size"));
        Assert.Equal(50, entries[1].Integer("step"));
        Assert.Equal(0.25, entries[1].Number("stall_s"));
        Assert.Equal("rank 1 lost; re-forming the world with 1 rank", entries[2].Text("text"));
        Assert.Equal("forge resume runs/r", entries[3].Text("resume"));
        Assert.Equal(50, entries[4].Integer("start_step"));
    }
}
