using Forge.Model.Evaluation;

namespace Forge.Model.Training;

/// <summary>
/// What one step produced, as one rank reports it. The names say whose value each field is:
/// <c>World*</c> values are the same on every rank of the world (reduced over it, or a function of the
/// step), <c>Rank*</c> values are this rank's own share. The step barrier sums only the rank values.
/// </summary>
/// <param name="WorldLoss">the global batch's mean token loss</param>
/// <param name="WorldTokens">target tokens in the global batch</param>
/// <param name="RankSamples">samples of the global batch this rank consumed</param>
/// <param name="WorldGradNorm">the global gradient norm before clipping</param>
/// <param name="LearningRate">the scheduled learning rate of the step (the same on every rank)</param>
/// <param name="RankTimings">this rank's seconds per phase</param>
/// <param name="WorldEvalLoss">the held-out tests' mean token losses after the step's update, on eval steps only</param>
/// <param name="Skipped">the loss or gradient norm was not finite, so no rank applied the update</param>
/// <param name="WorldRouting">for a model with MoE layers, the global batch's routing losses and tokens per expert
/// (<see cref="WorldLoss"/> then includes the weighted routing losses, the objective optimised, as KempnerForge logs it)</param>
public sealed record StepResult(
    long Step,
    double WorldLoss,
    long WorldTokens,
    int RankSamples,
    double WorldGradNorm,
    double LearningRate,
    StepTimings RankTimings,
    HeldOutLosses? WorldEvalLoss = null,
    bool Skipped = false,
    RoutingStats? WorldRouting = null);

/// <summary>Seconds spent per phase of a step on one rank.</summary>
public sealed record StepTimings(double Data, double Compute, double ReduceScatter, double Optimizer, double AllGather, double Total);
