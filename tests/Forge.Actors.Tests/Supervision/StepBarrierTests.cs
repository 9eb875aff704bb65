using Forge.Actors.Supervision;
using Forge.Model.Evaluation;
using Forge.Model.Training;

namespace Forge.Actors.Tests.Supervision;

public sealed class StepBarrierTests
{
    private static StepResult Report(int rank, long worldTokens = 939, int samples = 5, double total = 0.1, bool skipped = false) =>
        new(7, WorldLoss: 4.3888, WorldTokens: worldTokens, RankSamples: samples, WorldGradNorm: 1.5, LearningRate: 3e-4,
            new StepTimings(0.01 * rank, 0.02, 0.03, 0.04, 0.05, total), WorldEvalLoss: new HeldOutLosses(2.5, null), Skipped: skipped);

    [Fact]
    public void WorldValuesAreCountedOnceAndRankSamplesAddUpWhateverTheWorldSize()
    {
        // The same global batch (939 target tokens) split over 3 ranks and over 2: its tokens are the same.
        var three = new StepBarrier(7, 3);
        three.Arrive(0, Report(0, samples: 6, total: 0.10));
        three.Arrive(1, Report(1, samples: 5, total: 0.30));
        three.Arrive(2, Report(2, samples: 5, total: 0.20));
        var two = new StepBarrier(7, 2);
        two.Arrive(0, Report(0, samples: 8, total: 0.15));
        two.Arrive(1, Report(1, samples: 8, total: 0.05));

        var fromThree = three.Aggregate();
        var fromTwo = two.Aggregate();

        Assert.Equal(939, fromThree.Report.Tokens);
        Assert.Equal(939, fromTwo.Report.Tokens);
        Assert.Equal(16, fromThree.Samples);
        Assert.Equal(16, fromTwo.Samples);
        Assert.Equal(4.3888, fromThree.Report.Loss);
        Assert.Equal(0.30, fromThree.Report.SlowestRank.Total);   // rank 1, the slowest
        Assert.Equal(0.01, fromThree.Report.SlowestRank.Data);
        Assert.Equal(0.15, fromTwo.Report.SlowestRank.Total);
        Assert.Equal(new HeldOutLosses(2.5, null), fromThree.EvalLoss);
        Assert.Equal(3, fromThree.Report.WorldSize);
        Assert.False(fromThree.Report.Skipped);
    }

    [Fact]
    public void ASkippedStepIsReportedAsSkipped()
    {
        var barrier = new StepBarrier(7, 2);
        barrier.Arrive(0, Report(0, skipped: true));
        barrier.Arrive(1, Report(1, skipped: true));

        Assert.True(barrier.Aggregate().Report.Skipped);
    }

    [Fact]
    public void DuplicatesOtherStepsAndUnknownRanksDoNotCountAsArrivals()
    {
        var barrier = new StepBarrier(7, 2);

        Assert.True(barrier.Arrive(0, Report(0)));
        Assert.False(barrier.Arrive(0, Report(0)));
        Assert.False(barrier.Arrive(2, Report(2)));
        Assert.False(barrier.Arrive(1, Report(1) with { Step = 8 }));
        Assert.False(barrier.Complete);
        Assert.Equal([1], barrier.Missing);
        Assert.Throws<InvalidOperationException>(() => barrier.Aggregate());
    }
}
