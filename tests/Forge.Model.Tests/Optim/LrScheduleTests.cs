using Forge.Model.Config;
using Forge.Model.Optim;

namespace Forge.Model.Tests.Optim;

public class LrScheduleTests
{
    private const double Lr = 1e-3;

    [Fact]
    public void WarmupRisesLinearlyToTheFullRate()
    {
        var schedule = new LrSchedule(new SchedulerConfig { Name = "cosine", WarmupSteps = 10, MinLrRatio = 0.1 }, Lr, 110);
        Assert.Equal(Lr * 0.1, schedule.At(0), 12);
        Assert.Equal(Lr * 0.5, schedule.At(4), 12);
        Assert.Equal(Lr, schedule.At(9), 12);
    }

    [Fact]
    public void CosineStartsAtTheFullRatePassesTheMidpointHalfwayAndEndsAtTheFloor()
    {
        var schedule = new LrSchedule(new SchedulerConfig { Name = "cosine", WarmupSteps = 10, MinLrRatio = 0.1 }, Lr, 110);
        Assert.Equal(Lr, schedule.At(10), 12);
        Assert.Equal(Lr * (0.1 + 0.9 * 0.5), schedule.At(60), 12);
        Assert.Equal(Lr * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI / 4))), schedule.At(35), 12);
        Assert.Equal(Lr * 0.1, schedule.At(110), 12);
        Assert.Equal(Lr * 0.1, schedule.At(10_000), 12);
    }

    [Fact]
    public void LinearDecaysInAStraightLineOverTheDecaySteps()
    {
        var schedule = new LrSchedule(new SchedulerConfig { Name = "linear", WarmupSteps = 0, DecaySteps = 100, MinLrRatio = 0.0 }, Lr, 1000);
        Assert.Equal(Lr, schedule.At(0), 12);
        Assert.Equal(Lr * 0.75, schedule.At(25), 12);
        Assert.Equal(0, schedule.At(100), 12);
        Assert.Equal(0, schedule.At(500), 12);
    }

    [Fact]
    public void ConstantHoldsTheRateAfterWarmup()
    {
        var schedule = new LrSchedule(new SchedulerConfig { Name = "constant", WarmupSteps = 4 }, Lr, 100);
        Assert.Equal(Lr * 0.25, schedule.At(0), 12);
        Assert.All(new long[] { 3, 4, 50, 99, 1000 }, s => Assert.Equal(Lr, schedule.At(s), 12));
    }

    [Fact]
    public void AnUnknownScheduleNameIsRejectedNamingTheKey()
    {
        var error = Assert.Throws<ArgumentException>(() => new LrSchedule(new SchedulerConfig { Name = "step" }, Lr, 10));
        Assert.Contains("scheduler.name", error.Message);
        Assert.Contains("step", error.Message);
    }
}
