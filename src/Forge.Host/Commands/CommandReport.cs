using Forge.Actors.Security;
using Forge.Host.Configuration;
using Forge.Model.Config;
using Spectre.Console;

namespace Forge.Host.Commands;

/// <summary>How commands report failures; exit code 2 is bad input, 1 a failure while running.</summary>
internal static class CommandReport
{
    public const int BadInput = 2;
    public const int Failed = 1;

    public static int ConfigFailed(IAnsiConsole console, ConfigException e)
    {
        console.MarkupLine(e.Errors.Count == 1 ? "[red]error:[/] invalid config" : $"[red]error:[/] invalid config ({e.Errors.Count} problems)");
        foreach (var error in e.Errors) console.MarkupLine($"  {Markup.Escape(error.ToString())}");
        return BadInput;
    }

    /// <summary>
    /// Bad input, found before anything starts: [security] does not let a cluster node bound to
    /// <paramref name="host"/> start (see <see cref="ClusterTrust.For"/>). Null when it does.
    /// </summary>
    public static int? UntrustedCluster(IAnsiConsole console, string host, SecurityConfig security)
    {
        try
        {
            ClusterTrust.For(host, security)?.Dispose();
            return null;
        }
        catch (ClusterTrustException e)
        {
            return Error(console, e.Message);
        }
    }

    public static int Error(IAnsiConsole console, string message, int code = BadInput)
    {
        console.MarkupLine($"[red]error:[/] {Markup.Escape(message)}");
        return code;
    }
}
