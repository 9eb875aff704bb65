using Forge.Model.Config;
using Forge.Model.Pretrained;
using Forge.Model.Safetensors;
using Forge.Model.Tests.Modeling;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Pretrained;

/// <summary>
/// The tiny random Hugging Face models and their transformers outputs in tests/Fixtures/hf, made by
/// tests/Fixtures/hf/make_fixtures.py on a machine with transformers 5.
/// </summary>
internal static class HfFixtures
{
    public static string Root { get; } = FindRoot();

    public static string Dir(string name) => Path.Combine(Root, name);

    public static string Reference(string name) => Path.Combine(Root, "reference", name);

    /// <summary>The tiny VLM config with the fixture Llama's [model] and CA after every layer.</summary>
    public static JobConfig CrossAttentionConfig(string llama = "llama") => TinyVlm.Config() with
    {
        Model = HfLlamaConfig.Read(Dir(llama)).Model,
    };

    public static Tensor ReadReference(string file, string name)
    {
        using var reader = new SafetensorsReader(Reference(file));
        return reader.Read(name);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "Fixtures", "hf");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"tests/Fixtures/hf not found above {AppContext.BaseDirectory}");
    }
}
