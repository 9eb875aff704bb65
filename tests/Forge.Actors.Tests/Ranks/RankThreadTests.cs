using Forge.Actors.Ranks;

namespace Forge.Actors.Tests.Ranks;

public sealed class RankThreadTests
{
    [Fact]
    public async Task Work_runs_in_posting_order_on_one_named_thread()
    {
        using var thread = new RankThread("forge-test-rank", () => { });
        var order = new List<int>();
        var runs = Enumerable.Range(0, 50).Select(i => thread.Run(() =>
        {
            order.Add(i);
            return (Environment.CurrentManagedThreadId, Thread.CurrentThread.Name);
        })).ToArray();

        var seen = await Task.WhenAll(runs);

        Assert.Equal(Enumerable.Range(0, 50), order);
        Assert.Equal((thread.ManagedThreadId, "forge-test-rank"), Assert.Single(seen.Distinct()));
    }

    [Fact]
    public async Task A_thread_that_cannot_be_prepared_fails_every_work_item_with_the_cause()
    {
        using var thread = new RankThread("forge-test-rank", () => throw new InvalidOperationException("CUDA device 7 does not exist"));
        var ran = false;

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => thread.Run(() => ran = true));

        Assert.False(ran);
        Assert.Contains("CUDA device 7 does not exist", error.Message);
    }

    [Fact]
    public async Task Work_posted_after_stop_fails_instead_of_waiting_forever()
    {
        var thread = new RankThread("forge-test-rank", () => { });
        Assert.True(thread.Stop(TimeSpan.FromSeconds(5)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => thread.Run(() => 1));
    }

    [Fact]
    public async Task A_failing_work_item_does_not_stop_the_thread()
    {
        using var thread = new RankThread("forge-test-rank", () => { });
        await Assert.ThrowsAsync<DivideByZeroException>(() => thread.Run(() => throw new DivideByZeroException()));
        Assert.Equal(2, await thread.Run(() => 2));
    }
}
