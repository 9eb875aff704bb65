using System.CommandLine;
using Forge.Actors.Security;
using Forge.Host.Output;
using Spectre.Console;

namespace Forge.Host.Commands;

/// <summary>
/// `forge certs init|node`: a cluster's own CA and its node certificates, so a cluster across
/// machines runs mutual TLS without openssl. See <see cref="ClusterCertificates"/> for the files.
/// </summary>
public static class CertsCommand
{
    public static Command Create()
    {
        var command = new Command("certs",
            "Make the certificates a cluster across machines needs: `init` a CA once, then `node <host>` for each machine; prints the [security] keys to set.");
        command.Subcommands.Add(Init());
        command.Subcommands.Add(Node());
        return command;
    }

    private static Option<string> Directory() => new("--dir")
    {
        Description = "Directory of the CA and the node certificates",
        DefaultValueFactory = _ => "certs",
    };

    private static Command Init()
    {
        var dir = Directory();
        var name = new Option<string>("--name") { Description = "The CA's common name", DefaultValueFactory = _ => "ForgeActors cluster CA" };
        var force = new Option<bool>("--force") { Description = "Replace an existing CA (every node certificate it signed stops being trusted)" };
        var command = new Command("init", $"Make a self-signed CA: <dir>/{ClusterCertificates.CaFileName} (give it to every node) and <dir>/{ClusterCertificates.CaKeyFileName} (keep it here).")
        {
            dir, name, force,
        };
        command.SetAction(parse => RunInit(parse.GetValue(dir)!, parse.GetValue(name)!, parse.GetValue(force), ForgeConsole.Create()));
        return command;
    }

    private static Command Node()
    {
        var dir = Directory();
        var host = new Argument<string>("host") { Description = "The node's host name or IP address, as the other nodes reach it (its --host)" };
        var command = new Command("node", "Make a certificate for the node at <host>, signed by <dir>'s CA: <dir>/<host>.pfx (certificate and key) and <dir>/<host>.pem.")
        {
            host, dir,
        };
        command.SetAction(parse => RunNode(parse.GetValue(dir)!, parse.GetValue(host)!, ForgeConsole.Create()));
        return command;
    }

    internal static int RunInit(string directory, string name, bool force, IAnsiConsole console)
    {
        var certs = new ClusterCertificates(directory);
        try
        {
            using var authority = certs.CreateAuthority(name, replace: force);
            console.MarkupLine($"CA {Markup.Escape(authority.Subject)}, valid until {authority.NotAfter.ToUniversalTime():yyyy-MM-dd}");
        }
        catch (IOException e)
        {
            return CommandReport.Error(console, e.Message);
        }
        console.MarkupLine($"  {Markup.Escape(certs.CaPath)}: the CA certificate; every node needs a copy");
        console.MarkupLine($"  {Markup.Escape(certs.CaKeyPath)}: its private key (readable by you only); it signs node certificates and stays here");
        console.MarkupLine($"next: [bold]forge certs node <host> --dir {Markup.Escape(directory)}[/] for each machine of the cluster");
        return 0;
    }

    internal static int RunNode(string directory, string host, IAnsiConsole console)
    {
        var certs = new ClusterCertificates(directory);
        try
        {
            using var node = certs.CreateNode(host);
            console.MarkupLine($"node certificate for {Markup.Escape(host)}, signed by {Markup.Escape(node.Issuer)}, valid until {node.NotAfter.ToUniversalTime():yyyy-MM-dd}");
        }
        catch (Exception e) when (e is IOException or ArgumentException)
        {
            return CommandReport.Error(console, e.Message);
        }
        console.MarkupLine($"  {Markup.Escape(certs.NodePath(host))}: certificate and private key (readable by you only); copy it to {Markup.Escape(host)} alone");
        console.MarkupLine($"  {Markup.Escape(certs.NodePemPath(host))}: the certificate, to inspect");
        console.MarkupLine($"on {Markup.Escape(host)}, with {Markup.Escape(certs.CaPath)} and {Markup.Escape(certs.NodePath(host))} copied to the same paths, set in the job's config:");
        console.MarkupLine("  [[security]]");
        console.MarkupLine($"  ca_certificate = \"{Markup.Escape(certs.CaPath)}\"");
        console.MarkupLine($"  node_certificate = \"{Markup.Escape(certs.NodePath(host))}\"");
        console.MarkupLine($"or pass [bold]--set security.ca_certificate={Markup.Escape(certs.CaPath)} --set security.node_certificate={Markup.Escape(certs.NodePath(host))}[/], and --host {Markup.Escape(host)}");
        return 0;
    }
}
