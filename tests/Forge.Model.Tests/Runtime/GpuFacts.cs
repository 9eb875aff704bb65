using TorchSharp;

namespace Forge.Model.Tests.Runtime;

/// <summary>A GPU test that reports itself skipped, with the reason, where the CUDA devices it needs are absent.</summary>
public sealed class GpuFactAttribute : FactAttribute
{
    public GpuFactAttribute(int devices = 1)
    {
        var available = torch.cuda.is_available() ? torch.cuda.device_count() : 0;
        if (available < devices) Skip = $"needs {devices} CUDA device(s), found {available}";
    }
}

/// <summary>A GPU theory that reports itself skipped, with the reason, where the CUDA devices it needs are absent.</summary>
public sealed class GpuTheoryAttribute : TheoryAttribute
{
    public GpuTheoryAttribute(int devices = 1)
    {
        var available = torch.cuda.is_available() ? torch.cuda.device_count() : 0;
        if (available < devices) Skip = $"needs {devices} CUDA device(s), found {available}";
    }
}
