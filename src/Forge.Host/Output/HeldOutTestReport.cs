using Forge.Model.Evaluation;

namespace Forge.Host.Output;

/// <summary>
/// One held-out test at the end of a run: its eval loss (the train.eval_batches rows that training
/// evaluates), the caption scores over the first train.score_samples images of its evaluation order,
/// every caption generated (in that order) and how many of them to show (train.generate_samples).
/// </summary>
internal sealed record HeldOutTestReport(string Name, string Description, double? EvalLoss, CaptionScores? Scores,
    IReadOnlyList<GeneratedCaption> Captions, int ShownCount)
{
    public const string UnseenArt = "unseen art";
    public const string UnseenNames = "unseen names";

    public IEnumerable<GeneratedCaption> Shown => Captions.Take(ShownCount);
}
