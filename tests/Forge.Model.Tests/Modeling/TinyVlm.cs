using Forge.Model.Config;
using Forge.Model.Data;
using Forge.Model.Text;
using Forge.Model.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Modeling;

/// <summary>CPU-sized models and batches for property tests (seconds each).</summary>
internal static class TinyVlm
{
    public static JobConfig Config(string arch = "cross_attention", string encoder = "vit", int kvHeads = 2, int caEvery = 1) => new()
    {
        Model = new ModelConfig { Dim = 32, NLayers = 2, NHeads = 4, NKvHeads = kvHeads, VocabSize = 24, FfnHiddenDim = 48, MaxSeqLen = 64 },
        VisionEncoder = new VisionEncoderConfig { Type = encoder, FeatureDim = 16, ImageSize = 8, PatchSize = 4, NumTokens = 4, NLayers = 1, NHeads = 2, MlpRatio = 2 },
        Adapter = new AdapterConfig { Type = "mlp_2layer" },
        Vlm = new VlmConfig { Arch = arch, MaxTextLen = 8, CrossAttentionEveryNLayers = caEvery },
        Train = new TrainConfig { Seed = 7, MixedPrecision = "fp32" },
    };

    public static VisionLanguageModel Build(JobConfig? config = null) =>
        VlmRegistry.Build(config ?? Config(), CPU, ScalarType.Float32);

    /// <summary>Gives the zero-initialised CA projections random values, so CA blocks stop being the identity.</summary>
    public static void WakeCrossAttention(VisionLanguageModel model, long seed = 11)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var block in model.transformer.cross_attention_layers)
        {
            block.attn.o_proj.weight!.normal_(0, 0.2, generator);
            block.mlp.down_proj.weight!.normal_(0, 0.2, generator);
        }
    }

    public static Tensor Images(long batch, long seed) => rand([batch, 3, 8, 8], generator: new Generator((ulong)seed));

    public static Tensor Ids(long batch, long length, long seed, long vocab = 24) =>
        randint(3, vocab, [batch, length], generator: new Generator((ulong)seed));

    public static ImageTextBatch Batch(Tensor images, Tensor ids)
    {
        var labels = ids.clone();
        labels[TensorIndex.Colon, 0] = tensor(CaptionEncoder.IgnoreIndex); // BOS carries no target
        return new ImageTextBatch
        {
            Images = images,
            InputIds = ids,
            Labels = labels,
            SampleIndices = Enumerable.Range(0, (int)ids.shape[0]).Select(i => (long)i).ToArray(),
        };
    }

    public static byte[] Bytes(Tensor t) => t.contiguous().bytes.ToArray();
}
