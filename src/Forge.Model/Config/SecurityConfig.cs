namespace Forge.Model.Config;

/// <summary>
/// `[security]`: which nodes a cluster job trusts. With both files set, remoting runs over mutual
/// TLS and every peer must present a certificate signed by <see cref="CaCertificate"/>. A cluster
/// bound to a non-loopback address refuses to start without them; a single-machine job opens no
/// remoting port and needs neither. The CPU data plane needs no setting: each world's connections
/// prove a secret that travels only inside the collective group id, over remoting.
/// </summary>
public sealed record SecurityConfig
{
    /// <summary>The cluster's CA certificate (PEM or DER), as `forge certs init` writes it; every node's certificate must chain to it.</summary>
    public string CaCertificate { get; init; } = "";
    /// <summary>
    /// This node's certificate with its private key: a PKCS#12 file (.pfx or .p12, no password), as
    /// `forge certs node &lt;host&gt;` writes it, or a PEM file holding the certificate and the key.
    /// </summary>
    public string NodeCertificate { get; init; } = "";

    /// <summary>Whether remoting is to run over TLS (both files are named).</summary>
    public bool TlsConfigured => CaCertificate.Length > 0 && NodeCertificate.Length > 0;
}
