using System.Text.RegularExpressions;
using Forge.Host.Configuration;
using Forge.Model.Config;

namespace Forge.Host.Tests.Configuration;

public sealed class ReadmeReferenceTests
{
    [Fact]
    public void TheReadmeConfigurationReferenceNamesEveryKey()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "README.md"));
        var reference = readme[readme.IndexOf("## Configuration", StringComparison.Ordinal)..];
        var documented = Regex.Matches(reference, "`([a-z_0-9]+)`").Select(m => m.Groups[1].Value).ToHashSet();

        var missing = new List<string>();
        foreach (var section in ConfigSchema.KeysOf(typeof(JobConfig)))
        {
            if (!ConfigSchema.IsSection(section.Property.PropertyType))
            {
                if (!documented.Contains(section.Name)) missing.Add(section.Name);
                continue;
            }
            missing.AddRange(ConfigSchema.KeysOf(section.Property.PropertyType)
                .Where(k => !documented.Contains(k.Name))
                .Select(k => $"{section.Name}.{k.Name}"));
        }

        Assert.Empty(missing);
    }
}
