namespace Forge.Host.Tests;

/// <summary>Finds the checkout the tests were built from, so tests can read config/ as shipped.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string Config => Path.Combine(Root, "config");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ForgeActors.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no ForgeActors.sln above {AppContext.BaseDirectory}");
    }
}
