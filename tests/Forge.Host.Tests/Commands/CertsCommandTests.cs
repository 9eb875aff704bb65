using Forge.Actors.Security;
using Forge.Host.Commands;
using Forge.Host.Configuration;
using Forge.Host.Hosting;

namespace Forge.Host.Tests.Commands;

public sealed class CertsCommandTests
{
    [Fact]
    public void TheSecurityKeysThatCertsNodePrintsMakeATrustedNodeOfThatHost()
    {
        using var dir = new TempDirectory();
        var certs = dir.File("certs");
        var output = new StringWriter();

        Assert.Equal(0, CertsCommand.RunInit(certs, "test CA", force: false, RecordingConsole.Create(output)));
        Assert.Equal(0, CertsCommand.RunNode(certs, "127.0.0.1", RecordingConsole.Create(output)));

        // The printed [security] table, as a user would paste it into the job's config.
        var lines = output.ToString().Split('\n').Select(l => l.Trim()).ToList();
        var table = lines.SkipWhile(l => l != "[security]").Take(3).ToList();
        var config = JobConfigLoader.Parse(string.Join("\n", table) + "\n", "pasted.toml");
        using var trust = ClusterTrust.For("127.0.0.1", config.Security);
        Assert.NotNull(trust);
        Assert.Equal("CN=test CA", trust.Authority.Subject);
    }

    [Fact]
    public void CertsNodeWithoutACaFailsAndSaysToRunInitFirst()
    {
        using var dir = new TempDirectory();
        var output = new StringWriter();

        var code = CertsCommand.RunNode(dir.File("certs"), "gpu-b", RecordingConsole.Create(output));

        Assert.Equal(2, code);
        Assert.Contains("run `forge certs init` first", output.ToString());
    }

    [Fact]
    public async Task AClusterSeedOnANonLoopbackHostWithoutCertificatesIsRefusedBeforeTheRunDirectoryIsTouched()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("job.toml"), "run_name = \"open\"\n");
        var output = new StringWriter();

        var code = await TrainCommand.RunAsync(dir.File("job.toml"), [], 1, dir.File("runs"), new ClusterAddress("10.0.0.5", 4053), RecordingConsole.Create(output));

        Assert.Equal(2, code);
        Assert.Contains("set security.ca_certificate and security.node_certificate", output.ToString());
        Assert.False(Directory.Exists(dir.File("runs")));
    }

    [Fact]
    public void ANodeCertificateWithoutItsCaIsAConfigErrorNamingTheMissingKey()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("node.pfx"), "");

        var error = Assert.Throws<ConfigException>(() => JobConfigLoader.Parse($"[security]\nnode_certificate = \"{dir.File("node.pfx")}\"\n", "job.toml"));

        var problem = Assert.Single(error.Errors);
        Assert.Equal("security.ca_certificate", problem.Key);
        Assert.Contains("both are needed for TLS", problem.Expected);
    }
}
