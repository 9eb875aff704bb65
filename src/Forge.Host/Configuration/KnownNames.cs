namespace Forge.Host.Configuration;

/// <summary>
/// The names a config may choose between. They mirror what Forge.Model registers (architectures,
/// adapters, encoders, schedulers, tokenizers) and Forge.Actors supports (stores, backends); a name
/// added there is added here in the same change.
/// </summary>
public static class KnownNames
{
    public static readonly IReadOnlyList<string> Architectures = ["cross_attention", "joint_decoder", "mot"];
    /// <summary>KempnerForge's `model.moe_router` keys implemented here (its sigmoid_topk is not).</summary>
    public static readonly IReadOnlyList<string> Routers = ["softmax_topk"];
    public static readonly IReadOnlyList<string> Adapters = ["mlp_2layer", "linear"];
    public static readonly IReadOnlyList<string> Activations = ["gelu", "silu", "relu"];
    public static readonly IReadOnlyList<string> VisionEncoders = ["vit", "random"];
    public static readonly IReadOnlyList<string> Schedulers = ["cosine", "linear", "constant"];
    public static readonly IReadOnlyList<string> Optimizers = ["adamw"];
    public static readonly IReadOnlyList<string> Tokenizers = ["byte", "cl100k_base", "o200k_base"];
    public static readonly IReadOnlyList<string> Stores = ["sqlite", "postgresql"];
    /// <summary>"cpu" is another name for "tcp", the CPU ranks' backend.</summary>
    public static readonly IReadOnlyList<string> Backends = ["auto", "nccl", "tcp", "cpu"];
    public static readonly IReadOnlyList<string> Precisions = ["bf16", "fp32"];
    public static readonly IReadOnlyList<string> ExportDtypes = ["bfloat16", "float32"];
    public static readonly IReadOnlyList<string> EmojiVendors = ["google", "twitter", "apple", "facebook"];

    /// <summary>
    /// Smallest vocabulary each tokenizer's ids fit in (its VocabSize in Forge.Model.Text): the byte
    /// tokenizer's 256 bytes plus BOS, EOS and PAD; a BPE table's highest id plus those three.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, int> MinimumVocabulary = new Dictionary<string, int>
    {
        ["byte"] = 259,
        ["cl100k_base"] = 100_279,
        ["o200k_base"] = 200_021,
    };
}
