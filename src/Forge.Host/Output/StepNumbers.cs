using Forge.Actors.Protocol;
using Forge.Actors.Training;

namespace Forge.Host.Output;

/// <summary>
/// The step number every output shows. A <see cref="StepReport"/> carries the 0-based index of
/// the optimizer step it reports (IRankEngine.RunStep's argument), while checkpoints, JobStarted
/// and train.max_steps count steps done. Outputs use steps done, so "step 100" in metrics.jsonl,
/// TensorBoard, the progress bar and a checkpoint all mean the same model state.
/// </summary>
public static class StepNumbers
{
    public static long StepsDone(this StepReport report) => report.Step + 1;
}
