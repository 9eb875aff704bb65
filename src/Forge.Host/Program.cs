using Forge.Host.Commands;

namespace Forge.Host;

public static class Program
{
    public static Task<int> Main(string[] args) => ForgeCli.Create().Parse(args).InvokeAsync(ForgeCli.Invocation());
}
