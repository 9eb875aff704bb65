using Forge.Model.Tests.Training.Fixtures;
using Forge.Model.Optim;
using Forge.Model.Training;

namespace Forge.Model.Tests.Training;

public class FreezeStagesTests
{
    [Fact]
    public void WithoutAScheduleThereIsOneStageWhoseWholeShardTrainsOnTheFastPath()
    {
        using var model = new TinyCaptionModel(1);
        var stages = FreezeStages.Of(model);

        Assert.True(stages.Fixed);
        Assert.DoesNotContain(stages.LayoutNames, n => n.StartsWith("Mix"));
        Assert.Equal(0, stages.StageAt(1_000_000));
        var layout = FlatParameterLayout.For(model.Module, 3, stages.LayoutNames);
        Assert.Null(stages.Segments(0, layout.Parameters, layout.ShardLength, layout.ShardLength));
    }

    [Fact]
    public void TheLayoutHoldsEveryParameterThatTrainsInAnyStageInModuleOrder()
    {
        using var model = new TinyCaptionModel(1, unfreezeMixAt: 10);
        var stages = FreezeStages.Of(model, step: 3);

        Assert.Equal(model.Module.named_parameters().Select(p => p.name), stages.LayoutNames);
        Assert.Equal([0L, 10L], stages.Starts);
        // Of leaves the model frozen as at the step it was given.
        Assert.False(model.Module.named_parameters().Single(p => p.name.StartsWith("Mix")).parameter.requires_grad);
        Assert.Equal((0, 0, 1, 1), (stages.StageAt(0), stages.StageAt(9), stages.StageAt(10), stages.StageAt(500)));
    }

    [Fact]
    public void UpdateCountsAndSegmentsFollowTheSchedule()
    {
        using var model = new TinyCaptionModel(1, unfreezeMixAt: 10);
        var stages = FreezeStages.Of(model);
        var layout = FlatParameterLayout.For(model.Module, 1, stages.LayoutNames);
        var mix = layout.Parameters.ToList().FindIndex(p => p.Name.StartsWith("Mix"));
        var head = layout.Parameters.ToList().FindIndex(p => p.Name.StartsWith("Head"));

        Assert.Equal(0, stages.UpdatesBefore(mix, 10));
        Assert.Equal(5, stages.UpdatesBefore(mix, 15));
        Assert.Equal(15, stages.UpdatesBefore(head, 15));

        // Stage 0: everything but Mix, as two runs around it, no lag.
        var early = stages.Segments(0, layout.Parameters, 0, layout.ShardLength)!;
        var mixEntry = layout.Parameters[mix];
        Assert.Equal([new ShardSegmentPlan(0, mixEntry.Offset, 0), new ShardSegmentPlan(mixEntry.Offset + mixEntry.Numel, layout.Numel - mixEntry.Offset - mixEntry.Numel, 0)], early);
        // Stage 1: Mix trains with a lag of 10 steps, its neighbours with none: three runs, padding excluded.
        var late = stages.Segments(1, layout.Parameters, 0, layout.ShardLength)!;
        Assert.Equal([new ShardSegmentPlan(0, mixEntry.Offset, 0), new ShardSegmentPlan(mixEntry.Offset, mixEntry.Numel, 10),
                      new ShardSegmentPlan(mixEntry.Offset + mixEntry.Numel, layout.Numel - mixEntry.Offset - mixEntry.Numel, 0)], late);
    }

    [Fact]
    public void SegmentsAreClippedToTheRankShard()
    {
        using var model = new TinyCaptionModel(1, unfreezeMixAt: 10);
        var stages = FreezeStages.Of(model);
        var layout = FlatParameterLayout.For(model.Module, 4, stages.LayoutNames);
        var covered = 0L;
        for (var rank = 0; rank < 4; rank++)
        {
            var (start, length) = layout.ShardOf(rank);
            var segments = stages.Segments(1, layout.Parameters, start, length)!;
            Assert.All(segments, s => Assert.True(s.Offset >= 0 && s.Offset + s.Length <= length));
            covered += segments.Sum(s => s.Length);
        }
        Assert.Equal(layout.Numel, covered);
    }
}
