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

    public int ResolvedKvHeads => NKvHeads == 0 ? NHeads : NKvHeads;
    public int HeadDim => Dim / NHeads;

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
