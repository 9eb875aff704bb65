using Spectre.Console;

namespace Forge.Host.Output;

/// <summary>
/// The console commands write to. When stdout is a pipe or file, Spectre would wrap lines at its
/// assumed 80 columns, splitting log lines and error messages; there the width is unbounded.
/// </summary>
public static class ForgeConsole
{
    private const int UnwrappedWidth = 4096;

    public static IAnsiConsole Create()
    {
        var console = AnsiConsole.Console;
        if (Console.IsOutputRedirected) console.Profile.Width = UnwrappedWidth;
        return console;
    }
}
