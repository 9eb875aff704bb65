using Forge.Actors.Ranks;

namespace Forge.Actors.Tests.Ranks;

public sealed class RankThreadTests
{
    [Fact]
    public async Task WorkRunsInPostingOrderOnOneNamedThread()
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
    public async Task AThreadThatCannotBePreparedFailsEveryWorkItemWithTheCause()
    {
        using var thread = new RankThread("forge-test-rank", () => throw new InvalidOperationException("CUDA device 7 does not exist"));
        var ran = false;

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => thread.Run(() => ran = true));

        Assert.False(ran);
        Assert.Contains("CUDA device 7 does not exist", error.Message);
    }

    [Fact]
    public async Task WorkPostedAfterStopFailsInsteadOfWaitingForever()
    {
        var thread = new RankThread("forge-test-rank", () => { });
        Assert.True(thread.Stop(TimeSpan.FromSeconds(5)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => thread.Run(() => 1));
    }

    [Fact]
    public async Task AFailingWorkItemDoesNotStopTheThread()
    {
        using var thread = new RankThread("forge-test-rank", () => { });
        await Assert.ThrowsAsync<DivideByZeroException>(() => thread.Run(() => throw new DivideByZeroException()));
        Assert.Equal(2, await thread.Run(() => 2));
    }
}
