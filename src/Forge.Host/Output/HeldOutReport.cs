using Forge.Model.Evaluation;

namespace Forge.Host.Output;

/// <summary>The end-of-run held-out tests of the checkpoint committed at <paramref name="Step"/> (steps done): unseen art first, then unseen names.</summary>
internal sealed record HeldOutReport(long Step, IReadOnlyList<HeldOutTestReport> Tests)
{
    public HeldOutScores Scores => new(
        Tests.FirstOrDefault(t => t.Name == HeldOutTestReport.UnseenNames)?.Scores,
        Tests.FirstOrDefault(t => t.Name == HeldOutTestReport.UnseenArt)?.Scores);
}
