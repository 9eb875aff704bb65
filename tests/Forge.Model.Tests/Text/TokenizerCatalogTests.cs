using Forge.Model.Text;

namespace Forge.Model.Tests.Text;

public sealed class TokenizerCatalogTests
{
    [Fact]
    public void TheVocabSizesTableIsEachTokenizersVocabSize()
    {
        Assert.Equal(TokenizerCatalog.Names.Order(), TokenizerCatalog.VocabSizes.Keys.Order());
        Assert.All(TokenizerCatalog.Names, name => Assert.Equal(TokenizerCatalog.Create(name).VocabSize, TokenizerCatalog.VocabSizes[name]));
    }
}
