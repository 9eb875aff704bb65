using Spectre.Console;

namespace Forge.Host.Tests;

/// <summary>A Spectre console that writes plain text into a StringWriter, wide enough not to wrap.</summary>
internal static class RecordingConsole
{
    public static IAnsiConsole Create(StringWriter into, bool interactive = false)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = interactive ? AnsiSupport.Yes : AnsiSupport.No,
            Interactive = interactive ? InteractionSupport.Yes : InteractionSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(into),
        });
        console.Profile.Width = 1000;
        return console;
    }
}
