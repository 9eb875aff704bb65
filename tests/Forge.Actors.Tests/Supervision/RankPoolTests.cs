using Akka.Actor;
using Akka.TestKit.Xunit2;
using Forge.Actors.Supervision;

namespace Forge.Actors.Tests.Supervision;

public sealed class RankPoolTests : TestKit
{
    private IActorRef[] Ranks(int count) => Enumerable.Range(0, count).Select(i => CreateTestProbe($"rank-{i}").Ref).ToArray();

    [Fact]
    public void AWorldTakesTheLongestRegisteredRanksWhateverWasRemovedBetween()
    {
        var ranks = Ranks(6);
        var pool = new RankPool();
        foreach (var rank in ranks) pool.Add(rank);

        pool.Remove(ranks[1]);
        pool.Remove(ranks[4]);
        pool.Add(ranks[1]);   // registered again: now the newest

        Assert.Equal([ranks[0], ranks[2], ranks[3]], pool.First(3));
        Assert.Equal([ranks[0], ranks[2], ranks[3], ranks[5], ranks[1]], pool.Members);
        Assert.Equal(5, pool.Count);
    }

    [Fact]
    public void ARankIsAMemberOnceAndRemovingANonMemberChangesNothing()
    {
        var ranks = Ranks(3);
        var pool = new RankPool();

        Assert.True(pool.Add(ranks[0]));
        Assert.False(pool.Add(ranks[0]));
        Assert.False(pool.Remove(ranks[2]));

        Assert.True(pool.Contains(ranks[0]));
        Assert.False(pool.Contains(ranks[1]));
        Assert.Equal([ranks[0]], pool.Members);
    }

    [Fact]
    public void TheRanksAtAnAddressAreThoseOfThatProcessOnly()
    {
        var ranks = Ranks(2);
        var pool = new RankPool();
        foreach (var rank in ranks) pool.Add(rank);

        Assert.Equal(ranks, pool.At(ranks[0].Path.Address));
        Assert.Empty(pool.At(new Address("akka.tcp", "forge", "127.0.0.1", 4053)));
    }
}
