using Forge.Model.Data;
using Forge.Model.Modeling.Moe;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>
/// What training needs from a vision-language model, whatever its architecture: its parameters
/// (by KempnerForge state-dict name, through <see cref="Module"/>) and a summed next-token loss.
/// </summary>
public interface ITrainableModel : IDisposable
{
    /// <summary>The root module; named_parameters() gives KempnerForge names, requires_grad marks trainable ones.</summary>
    nn.Module Module { get; }

    /// <summary>
    /// Sum over target tokens of the next-token cross-entropy (labels shifted by one inside; -100
    /// ignored), as a float32 scalar, and how many target tokens it covers. Summing (not averaging)
    /// lets callers weight by the global token count so any world size gives the one-rank update.
    /// </summary>
    (Tensor LossSum, long Tokens) LossSum(ImageTextBatch batch);

    /// <summary>
    /// <see cref="LossSum(ImageTextBatch)"/>, with the MoE layers' routing losses and expert counts of
    /// this forward reported to <paramref name="routing"/>. Models without MoE layers report nothing.
    /// </summary>
    (Tensor LossSum, long Tokens) LossSum(ImageTextBatch batch, RoutingLog? routing) => LossSum(batch);

    /// <summary>Whether the model has MoE layers, whose routing losses join the training loss.</summary>
    bool HasMoeLayers => false;

    /// <summary>Text logits (B, T, vocab) for the given images and token ids; used by generation and eval.</summary>
    Tensor Logits(Tensor images, Tensor inputIds, Tensor? imageMask = null);

    /// <summary>Applies freeze specs and the freeze schedule for this step (requires_grad per parameter).</summary>
    void ApplyFreezeFor(long step);

    /// <summary>
    /// The steps after 0 at which the freeze schedule changes the trainable set, ascending; empty
    /// when the set is fixed for the whole run. Between two of them <see cref="ApplyFreezeFor"/>
    /// gives the same requires_grad flags, so trainers apply it only at these boundaries.
    /// </summary>
    IReadOnlyList<long> FreezeStageStarts => [];
}
