using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using Forge.Model.Config;

namespace Forge.Actors.Security;

/// <summary>
/// Who a cluster node trusts: this node's certificate and the cluster's CA, from [security]. Remoting
/// runs over mutual TLS with them: each side presents its certificate and accepts the other's only if
/// it chains to this CA (not to the machine's trust store, so a certificate some public CA signed
/// for the same host is no key to the job). An outbound connection also requires that the certificate
/// names the host it dialled, so one trusted node cannot answer at another's address.
/// </summary>
public sealed class ClusterTrust : IDisposable
{
    private ClusterTrust(X509Certificate2 node, X509Certificate2 authority)
    {
        Node = node;
        Authority = authority;
    }

    /// <summary>This node's certificate, with its private key.</summary>
    public X509Certificate2 Node { get; }
    /// <summary>The CA every peer's certificate must chain to.</summary>
    public X509Certificate2 Authority { get; }

    /// <summary>
    /// The trust of a cluster member bound to <paramref name="host"/>: null (plain TCP) when [security]
    /// names no certificates and the host is a loopback address, where only this machine can connect.
    /// A non-loopback cluster without certificates is refused, as is a certificate that does not
    /// chain to the CA, lacks its private key or does not name the host.
    /// </summary>
    /// <exception cref="ClusterTrustException">What is missing or wrong, naming the key and the file.</exception>
    public static ClusterTrust? For(string host, SecurityConfig security)
    {
        if (security.CaCertificate.Length == 0 && security.NodeCertificate.Length == 0)
        {
            if (IsLoopback(host)) return null;
            throw new ClusterTrustException(
                $"--host {host} is not a loopback address, so other machines can reach this cluster node: set security.ca_certificate and " +
                $"security.node_certificate (make them with `forge certs init` and `forge certs node {host}`), or bind to 127.0.0.1 to stay on this machine");
        }
        if (security.CaCertificate.Length == 0)
            throw new ClusterTrustException($"security.node_certificate = \"{security.NodeCertificate}\" needs security.ca_certificate too (the CA that signed it, e.g. certs/ca.pem)");
        if (security.NodeCertificate.Length == 0)
            throw new ClusterTrustException($"security.ca_certificate = \"{security.CaCertificate}\" needs security.node_certificate too (this node's certificate, e.g. certs/{host}.pfx from `forge certs node {host}`)");

        var authority = LoadAuthority(security.CaCertificate);
        var node = LoadNode(security.NodeCertificate);
        var trust = new ClusterTrust(node, authority);
        try
        {
            if (!trust.Chains(node, out var why))
                throw new ClusterTrustException($"security.node_certificate = \"{security.NodeCertificate}\" ({node.Subject}) is not signed by security.ca_certificate = \"{security.CaCertificate}\" ({authority.Subject}): {why}");
            if (!node.MatchesHostname(host))
                throw new ClusterTrustException($"security.node_certificate = \"{security.NodeCertificate}\" is for {Names(node)}, not for --host {host}; make one with `forge certs node {host}`");
            return trust;
        }
        catch
        {
            trust.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A loopback host: an IP address of the loopback range, or a name that resolves only to such
    /// addresses (Debian's /etc/hosts maps the machine's own name to 127.0.1.1). Remoting binds to
    /// exactly this host, so nothing off the machine reaches it.
    /// </summary>
    public static bool IsLoopback(string host)
    {
        if (IPAddress.TryParse(host, out var address)) return IPAddress.IsLoopback(address);
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return true;
        try
        {
            var addresses = Dns.GetHostAddresses(host);
            return addresses.Length > 0 && addresses.All(IPAddress.IsLoopback);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// Akka.Remote's validation of every TLS peer, inbound and outbound: the certificate chains to our
    /// CA and, on an outbound link, names the host dialled. Refusals are logged with the reason.
    /// </summary>
    public CertificateValidationCallback Validator => (certificate, _, peer, errors, log) =>
    {
        string? refusal = null;
        if (certificate is null) refusal = "it presented no certificate";
        else if (!Chains(certificate, out var why)) refusal = $"its certificate {certificate.Subject} is not signed by this cluster's CA {Authority.Subject}: {why}";
        else if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) refusal = $"its certificate is for {Names(certificate)}, not for the host dialled";
        if (refusal is null) return true;
        log.Warning("TLS: refused {0}: {1}", peer, refusal);
        return false;
    };

    /// <summary>Akka.Remote's TLS setup: this certificate, mutual authentication, validation by <see cref="Validator"/>.</summary>
    public DotNettySslSetup SslSetup() =>
        new(Node, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false, Validator);

    /// <summary>Whether <paramref name="certificate"/> chains to <see cref="Authority"/> alone, as a TLS endpoint's certificate.</summary>
    private bool Chains(X509Certificate2 certificate, out string why)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Authority);
        // A self-made CA publishes no revocation list; a compromised node is dropped by making a new CA.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.NoFlag;
        if (!chain.Build(certificate))
        {
            why = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).DefaultIfEmpty("the chain does not build"));
            return false;
        }
        var root = chain.ChainElements[^1].Certificate;
        if (!root.RawDataMemory.Span.SequenceEqual(Authority.RawDataMemory.Span))
        {
            why = $"it chains to {root.Subject}, not to the configured CA";
            return false;
        }
        why = "";
        return true;
    }

    private static X509Certificate2 LoadAuthority(string path)
    {
        var certificate = Load("security.ca_certificate", path, file =>
            File.ReadAllText(file).Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
                ? X509Certificate2.CreateFromPem(File.ReadAllText(file))
                : X509CertificateLoader.LoadCertificateFromFile(file));
        var constraints = certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        if (constraints is not { CertificateAuthority: true })
        {
            certificate.Dispose();
            throw new ClusterTrustException($"security.ca_certificate = \"{path}\" ({certificate.Subject}) is not a CA certificate; expected the ca.pem of `forge certs init`");
        }
        return certificate;
    }

    private static X509Certificate2 LoadNode(string path)
    {
        var certificate = Load("security.node_certificate", path, file =>
            Path.GetExtension(file).ToLowerInvariant() is ".pfx" or ".p12"
                ? X509CertificateLoader.LoadPkcs12FromFile(file, password: null)
                : X509Certificate2.CreateFromPemFile(file));
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new ClusterTrustException($"security.node_certificate = \"{path}\" holds no private key; expected a .pfx from `forge certs node <host>`, or a PEM file with the certificate and its key");
        }
        return certificate;
    }

    private static X509Certificate2 Load(string key, string path, Func<string, X509Certificate2> load)
    {
        if (!File.Exists(path)) throw new ClusterTrustException($"{key} = \"{path}\": no such file");
        try
        {
            return load(path);
        }
        catch (CryptographicException e)
        {
            throw new ClusterTrustException($"{key} = \"{path}\" does not load as a certificate: {e.Message}", e);
        }
    }

    private static string Names(X509Certificate2 certificate)
    {
        var names = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>()
            .SelectMany(san => san.EnumerateDnsNames().Concat(san.EnumerateIPAddresses().Select(a => a.ToString())))
            .ToList();
        return names.Count > 0 ? string.Join(", ", names) : certificate.Subject;
    }

    public void Dispose()
    {
        Node.Dispose();
        Authority.Dispose();
    }
}
