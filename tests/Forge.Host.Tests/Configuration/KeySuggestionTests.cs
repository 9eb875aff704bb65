using Forge.Host.Configuration;

namespace Forge.Host.Tests.Configuration;

public sealed class KeySuggestionTests
{
    [Theory]
    [InlineData("n_heads", "n_heads", 0)]
    [InlineData("n_head", "n_heads", 1)]
    [InlineData("n_haeds", "n_heads", 1)]
    [InlineData("dim", "dims", 1)]
    [InlineData("", "abc", 3)]
    [InlineData("kitten", "sitting", 3)]
    public void EditDistanceCountsInsertionsDeletionsSubstitutionsAndSwaps(string a, string b, int expected)
    {
        Assert.Equal(expected, KeySuggestion.EditDistance(a, b));
        Assert.Equal(expected, KeySuggestion.EditDistance(b, a));
    }

    [Fact]
    public void TheClosestCandidateIsSuggested()
    {
        Assert.Equal("n_kv_heads", KeySuggestion.Closest("n_kv_head", ["n_heads", "n_kv_heads", "dim"]));
    }

    [Fact]
    public void NothingIsSuggestedForAnUnrelatedWord()
    {
        Assert.Null(KeySuggestion.Closest("learning_rate", ["lr", "betas", "eps"]));
    }
}
