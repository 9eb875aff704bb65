using Forge.Model.Runtime;
using TorchSharp;

namespace Forge.Model.Tests.Runtime;

public class TorchRuntimeTests
{
    [Fact]
    public void ProbeLoadsLibtorchAndComputes()
    {
        var report = TorchRuntime.Probe();
        Assert.True(report.Loaded, report.Error);
        Assert.Equal("cpu", report.Backend);
        using var x = torch.arange(4, dtype: torch.float32);
        Assert.Equal(6f, x.sum().item<float>());
    }

    [Fact]
    public void AMissingGlibcxxSymbolIsExplainedWithTheSetupFix()
    {
        var error = new TypeInitializationException("TorchSharp.torch",
            new DllNotFoundException("/lib/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by libLibTorchSharp.so)"));
        var (cause, fix) = TorchRuntime.Explain(error);
        Assert.Contains("GLIBCXX_3.4.32", cause);
        Assert.Contains("scripts/setup.sh", fix);
    }
}
