using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Forge.Actors.Security;

/// <summary>
/// The files of a cluster's own CA, in one directory (`forge certs`): <c>ca.pem</c> (the CA
/// certificate, which every node gets), <c>ca.key.pem</c> (its private key, which stays with whoever
/// makes node certificates), and per node <c>&lt;host&gt;.pfx</c> (the node's certificate and key,
/// no password) with <c>&lt;host&gt;.pem</c> (the certificate alone, to inspect). Keys are ECDSA P-256;
/// private key files are written readable by their owner only.
/// </summary>
public sealed class ClusterCertificates(string directory)
{
    public const string CaFileName = "ca.pem";
    public const string CaKeyFileName = "ca.key.pem";

    /// <summary>How long a CA is valid: its end is every node certificate's end, so it is long.</summary>
    public static readonly TimeSpan CaLifetime = TimeSpan.FromDays(3650);
    /// <summary>How long a node certificate is valid.</summary>
    public static readonly TimeSpan NodeLifetime = TimeSpan.FromDays(825);

    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    public string Directory { get; } = directory;
    public string CaPath => Path.Combine(Directory, CaFileName);
    public string CaKeyPath => Path.Combine(Directory, CaKeyFileName);
    public string NodePath(string host) => Path.Combine(Directory, $"{host}.pfx");
    public string NodePemPath(string host) => Path.Combine(Directory, $"{host}.pem");

    /// <summary>Makes a new self-signed CA, named after <paramref name="name"/>; refuses to replace one unless <paramref name="replace"/>.</summary>
    /// <exception cref="IOException">A CA is already there (replacing it would orphan every node certificate it signed).</exception>
    public X509Certificate2 CreateAuthority(string name, bool replace = false)
    {
        if (!replace && (File.Exists(CaPath) || File.Exists(CaKeyPath)))
            throw new IOException($"{CaPath} already exists: a new CA would invalidate every node certificate the old one signed (pass --force to replace it)");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(CommonName(name), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = DateTimeOffset.UtcNow;
        var authority = request.CreateSelfSigned(now.AddMinutes(-5), now + CaLifetime);
        System.IO.Directory.CreateDirectory(Directory);
        File.WriteAllText(CaPath, authority.ExportCertificatePem() + "\n");
        WritePrivate(CaKeyPath, key.ExportPkcs8PrivateKeyPem() + "\n");
        return authority;
    }

    /// <summary>
    /// Makes a certificate for the node at <paramref name="host"/> (an IP address or a DNS name, as
    /// other nodes dial it), signed by this directory's CA, for both ends of a TLS link.
    /// </summary>
    /// <exception cref="IOException">The directory holds no CA (run `forge certs init` first).</exception>
    public X509Certificate2 CreateNode(string host)
    {
        if (string.IsNullOrWhiteSpace(host) || host.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || host.Contains(' '))
            throw new ArgumentException($"host '{host}': expected the host name or IP address other nodes reach this node at, for example 10.0.0.5 or gpu-b", nameof(host));
        if (!File.Exists(CaPath) || !File.Exists(CaKeyPath))
            throw new IOException($"{Directory} holds no CA ({CaFileName} and {CaKeyFileName}): run `forge certs init` first");
        using var authority = X509Certificate2.CreateFromPemFile(CaPath, CaKeyPath);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(CommonName(host), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuthentication, ClientAuthentication], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var names = new SubjectAlternativeNameBuilder();
        if (IPAddress.TryParse(host, out var address)) names.AddIpAddress(address);
        else names.AddDnsName(host);
        request.CertificateExtensions.Add(names.Build(critical: false));

        var now = DateTimeOffset.UtcNow;
        var notAfter = now + NodeLifetime < authority.NotAfter ? now + NodeLifetime : new DateTimeOffset(authority.NotAfter.ToUniversalTime());
        using var signed = request.Create(authority, now.AddMinutes(-5), notAfter, RandomNumberGenerator.GetBytes(16));
        var node = signed.CopyWithPrivateKey(key);
        WritePrivate(NodePath(host), node.Export(X509ContentType.Pkcs12));
        File.WriteAllText(NodePemPath(host), node.ExportCertificatePem() + "\n");
        return node;
    }

    private static void WritePrivate(string path, string text) => WritePrivate(path, System.Text.Encoding.ASCII.GetBytes(text));

    /// <summary>Writes a file that only its owner may read: created with that mode, so it is never readable by others, even briefly.</summary>
    private static void WritePrivate(string path, byte[] bytes)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(path, options)) stream.Write(bytes);
        // An existing file keeps its old mode under FileMode.Create: set it explicitly.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static X500DistinguishedName CommonName(string name)
    {
        var builder = new X500DistinguishedNameBuilder();
        builder.AddCommonName(name);
        return builder.Build();
    }
}
