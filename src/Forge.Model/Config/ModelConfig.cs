namespace Forge.Model.Config;

/// <summary>
/// `[model]`: the text decoder (Llama style). Names follow KempnerForge's ModelConfig so a
/// KempnerForge TOML section reads unchanged.
/// </summary>
public sealed record ModelConfig
{
    public int Dim { get; init; } = 256;
    public int NLayers { get; init; } = 4;
    public int NHeads { get; init; } = 4;
    /// <summary>0 means "same as n_heads" (MHA).</summary>
    public int NKvHeads { get; init; }
    public int VocabSize { get; init; } = 32000;
    public double FfnDimMultiplier { get; init; } = 1.0;
    /// <summary>0 means "4*dim*2/3*multiplier rounded up to a multiple of 256".</summary>
    public int FfnHiddenDim { get; init; }
    public double NormEps { get; init; } = 1e-5;
    public int MaxSeqLen { get; init; } = 2048;
    public double RopeTheta { get; init; } = 10000.0;
    public double InitStd { get; init; } = 0.02;

    // Mixture-of-Experts MLPs (KempnerForge's keys; the defaults give a dense model).
    /// <summary>Routed experts per MoE layer; 0 means every MLP is dense.</summary>
    public int NumExperts { get; init; }
    /// <summary>Experts each token is sent to.</summary>
    public int MoeTopK { get; init; } = 2;
    /// <summary>Layer i has an MoE MLP when (i+1) % moe_frequency == 0 (1 = all, 2 = every second).</summary>
    public int MoeFrequency { get; init; } = 1;
    /// <summary>KempnerForge's softmax top-k router (its sigmoid_topk is not implemented).</summary>
    public const string SoftmaxTopK = "softmax_topk";
    /// <summary>The `moe_router` names: validation accepts exactly these.</summary>
    public static IReadOnlyList<string> MoeRouters { get; } = [SoftmaxTopK];
    /// <summary>Router registry key; "softmax_topk" is the one implemented.</summary>
    public string MoeRouter { get; init; } = SoftmaxTopK;
    /// <summary>Greater than 0 adds KempnerForge's one always-active shared expert (its count is not a multiplier there either).</summary>
    public int MoeSharedExperts { get; init; }
    /// <summary>Weight of the load-balancing loss in the training loss.</summary>
    public double MoeAuxLossWeight { get; init; } = 0.01;
    /// <summary>0 = no token is dropped; otherwise each expert takes at most ceil(tokens*top_k/experts*factor) tokens per routing slot.</summary>
    public double MoeCapacityFactor { get; init; }
    /// <summary>Weight of the router z-loss (ST-MoE) in the training loss; 0 = off.</summary>
    public double MoeRouterZLossWeight { get; init; }

    public int ResolvedKvHeads => NKvHeads == 0 ? NHeads : NKvHeads;
    public int HeadDim => Dim / NHeads;

    public bool IsMoe => NumExperts > 0;

    /// <summary>Whether decoder layer <paramref name="layer"/> (0-based) has an MoE MLP.</summary>
    public bool IsMoeLayer(int layer) => IsMoe && MoeFrequency > 0 && (layer + 1) % MoeFrequency == 0;

    /// <summary>
    /// Expert hidden width: the dense width rounded to a multiple of 16 (at least 16), as KempnerForge's
    /// computed_expert_ffn_hidden_dim does with its default multiplier; Python's round() is half-to-even.
    /// </summary>
    public int ExpertFfnHiddenDim => Math.Max(16, 16 * (int)Math.Round(ResolvedFfnHiddenDim / 16.0, MidpointRounding.ToEven));

    public int ResolvedFfnHiddenDim
    {
        get
        {
            if (FfnHiddenDim > 0) return FfnHiddenDim;
            var raw = (int)(4 * Dim * (2.0 / 3.0) * FfnDimMultiplier);
            return 256 * (int)Math.Ceiling(raw / 256.0);
        }
    }
}
