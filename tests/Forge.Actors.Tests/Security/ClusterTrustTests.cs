using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Forge.Actors.Security;
using Forge.Model.Config;

namespace Forge.Actors.Tests.Security;

public sealed class ClusterTrustTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("forge-trust-").FullName;

    /// <summary>A CA in its own directory with node certificates for the given hosts, made by the `forge certs` code.</summary>
    private ClusterCertificates Authority(string name, params string[] hosts)
    {
        var certs = new ClusterCertificates(Path.Combine(_root, name));
        certs.CreateAuthority(name).Dispose();
        foreach (var host in hosts) certs.CreateNode(host).Dispose();
        return certs;
    }

    private static SecurityConfig Config(ClusterCertificates ca, ClusterCertificates issuer, string host) =>
        new() { CaCertificate = ca.CaPath, NodeCertificate = issuer.NodePath(host) };

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    [InlineData("::1")]
    public void ALoopbackClusterWithoutCertificatesRunsOnPlainTcp(string host)
    {
        Assert.Null(ClusterTrust.For(host, new SecurityConfig()));
    }

    [Fact]
    public void AClusterOnANonLoopbackAddressWithoutCertificatesIsRefusedNamingTheKeysAndTheFix()
    {
        var error = Assert.Throws<ClusterTrustException>(() => ClusterTrust.For("10.0.0.5", new SecurityConfig()));

        Assert.Contains("security.ca_certificate", error.Message);
        Assert.Contains("security.node_certificate", error.Message);
        Assert.Contains("forge certs node 10.0.0.5", error.Message);
    }

    [Fact]
    public void ACertificateWithoutItsCaIsRefusedNamingTheMissingKey()
    {
        var certs = Authority("ca", "127.0.0.1");

        var error = Assert.Throws<ClusterTrustException>(() => ClusterTrust.For("127.0.0.1", new SecurityConfig { NodeCertificate = certs.NodePath("127.0.0.1") }));

        Assert.Contains("needs security.ca_certificate", error.Message);
    }

    [Fact]
    public void ANodeCertificateMadeByTheCertsCodeIsTrustedForItsHost()
    {
        var certs = Authority("ca", "127.0.0.1");

        using var trust = ClusterTrust.For("127.0.0.1", Config(certs, certs, "127.0.0.1"));

        Assert.NotNull(trust);
        Assert.True(trust.Node.HasPrivateKey);
        Assert.Equal("CN=ca", trust.Authority.Subject);
    }

    [Fact]
    public void ANodeCertificateOfAnotherCaIsRefusedAtStart()
    {
        var ours = Authority("ours");
        var theirs = Authority("theirs", "127.0.0.1");

        var error = Assert.Throws<ClusterTrustException>(() => ClusterTrust.For("127.0.0.1", Config(ours, theirs, "127.0.0.1")));

        Assert.Contains("is not signed by security.ca_certificate", error.Message);
        Assert.Contains(ours.CaPath, error.Message);
    }

    [Fact]
    public void ANodeCertificateForAnotherHostIsRefusedAtStart()
    {
        var certs = Authority("ca", "127.0.0.2");

        var error = Assert.Throws<ClusterTrustException>(() => ClusterTrust.For("127.0.0.1", Config(certs, certs, "127.0.0.2")));

        Assert.Contains("is for 127.0.0.2, not for --host 127.0.0.1", error.Message);
    }

    [Fact]
    public void TheTlsValidatorAcceptsOnlyPeersWithACertificateOfTheClustersCaForTheHostDialled()
    {
        var ours = Authority("ours", "127.0.0.1", "127.0.0.2");
        var theirs = Authority("theirs", "127.0.0.2");
        using var trust = ClusterTrust.For("127.0.0.1", Config(ours, ours, "127.0.0.1"))!;
        using var peer = X509CertificateLoader.LoadPkcs12FromFile(ours.NodePath("127.0.0.2"), null);
        using var stranger = X509CertificateLoader.LoadPkcs12FromFile(theirs.NodePath("127.0.0.2"), null);
        // The errors the platform reports against its own trust store, which does not hold our CA.
        const SslPolicyErrors untrustedRoot = SslPolicyErrors.RemoteCertificateChainErrors;
        var validate = trust.Validator;

        Assert.True(validate(peer, null, "peer", untrustedRoot, NoLogger.Instance));
        Assert.False(validate(stranger, null, "stranger", untrustedRoot, NoLogger.Instance));
        Assert.False(validate(null, null, "anonymous", SslPolicyErrors.RemoteCertificateNotAvailable, NoLogger.Instance));
        Assert.False(validate(peer, null, "impersonator", untrustedRoot | SslPolicyErrors.RemoteCertificateNameMismatch, NoLogger.Instance));
    }

    [Fact]
    public void MakingACaRefusesToReplaceAnExistingOne()
    {
        var certs = Authority("ca");
        var before = File.ReadAllText(certs.CaPath);

        Assert.Throws<IOException>(() => certs.CreateAuthority("again"));

        Assert.Equal(before, File.ReadAllText(certs.CaPath));
    }

    [Fact]
    public void PrivateKeyFilesAreReadableByTheirOwnerOnly()
    {
        if (OperatingSystem.IsWindows()) return;
        var certs = Authority("ca", "gpu-b");

        foreach (var path in new[] { certs.CaKeyPath, certs.NodePath("gpu-b") })
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { /* a leftover temp dir is harmless */ }
    }
}
