using Forge.Model.Safetensors;
using Forge.Model.Tests.Modeling;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Safetensors;

public sealed class VlmCheckpointTests
{
    [Fact]
    public void ABf16ExportOfTheVLMLoadsBackAsTheBf16RoundedWeightsUnderKempnerForgeNames()
    {
        var path = Path.Combine(Path.GetTempPath(), $"forge-vlm-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var source = TinyVlm.Build();
            using var target = TinyVlm.Build(TinyVlm.Config() with { Train = new Forge.Model.Config.TrainConfig { Seed = 99, MixedPrecision = "fp32" } });
            StateDict.Save(source, path, ScalarType.BFloat16);
            using (var reader = new SafetensorsReader(path))
            {
                Assert.Contains(reader.Entries, e => e.Name == "transformer.cross_attention_layers.0.attn.o_proj.weight" && e.DType == ScalarType.BFloat16);
                Assert.Equal(source.named_parameters().Count(), reader.Entries.Count);
            }
            StateDict.Load(target, path);
            var want = source.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in target.named_parameters())
            {
                using var rounded = want[name].to(ScalarType.BFloat16).to(ScalarType.Float32);
                Assert.True(p.equal(rounded).all().item<bool>(), name);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
