using System.Runtime.InteropServices;
using Forge.Host.Hosting;

namespace Forge.Host.Tests.Hosting;

public sealed class StopSignalsTests
{
    [Fact]
    public void TheFirstSignalAsksTheJobToStopAndKeepsTheProcess()
    {
        var said = new List<string>();
        var exits = new List<int>();
        using var signals = new StopSignals(said.Add, exits.Add);

        signals.Handle(PosixSignal.SIGTERM);

        Assert.True(signals.Token.IsCancellationRequested);
        Assert.Empty(exits);
        Assert.Equal("SIGTERM", signals.StoppedBy);
        Assert.Contains("checkpoint", Assert.Single(said));
    }

    [Theory]
    [InlineData(PosixSignal.SIGINT, 130)]
    [InlineData(PosixSignal.SIGTERM, 143)]
    public void ASecondSignalExitsAtOnceWithTheShellsCode(PosixSignal second, int code)
    {
        var exits = new List<int>();
        using var signals = new StopSignals(_ => { }, exits.Add);

        signals.Handle(PosixSignal.SIGINT);
        signals.Handle(second);

        Assert.Equal([code], exits);
        Assert.Equal("SIGINT", signals.StoppedBy);
    }
}
