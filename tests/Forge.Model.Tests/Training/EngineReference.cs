using Forge.Model.Config;
using Forge.Model.Optim;
using Forge.Model.Tests.Training.Fixtures;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Training;

/// <summary>
/// Plain single-process training with torch's own tools, the ground truth the engine must reproduce:
/// the whole global batch in one forward, the loss divided by its target tokens,
/// torch.nn.utils.clip_grad_norm_ and torch.optim.AdamW, the learning rate from <see cref="LrSchedule"/>.
/// </summary>
public static class EngineReference
{
    public static JobConfig Config(int globalBatch, int microBatch) => new()
    {
        Train = new TrainConfig { BatchSize = microBatch, GlobalBatchSize = globalBatch, MaxSteps = 10, GradClipNorm = 1.0, MixedPrecision = "fp32" },
        Optimizer = new OptimizerConfig { Lr = 3e-2, WeightDecay = 0.1, Betas = [0.9, 0.95], Eps = 1e-8 },
        Scheduler = new SchedulerConfig { Name = "cosine", WarmupSteps = 3, MinLrRatio = 0.1 },
    };

    /// <summary>
    /// The trained parameters, flattened in layout order, after <paramref name="steps"/> steps. With
    /// <paramref name="unfreezeMixAt"/>, the mixing layer joins the optimizer's parameters from the start
    /// but has no gradient (None) until that step, so torch.optim.AdamW skips it until then and its own
    /// step count starts at its first update.
    /// </summary>
    public static Tensor Train(JobConfig config, long modelSeed, int steps, long? unfreezeMixAt = null)
    {
        using var model = new TinyCaptionModel(modelSeed, unfreezeMixAt);
        using var data = new SyntheticCaptions(config.Train.GlobalBatchSize);
        var named = model.Module.named_parameters().ToArray();
        var optimized = named.Where(p => p.parameter.requires_grad || (unfreezeMixAt is not null && p.name.StartsWith("Mix"))).Select(p => p.parameter).ToArray();
        var o = config.Optimizer;
        using var optimizer = torch.optim.AdamW(optimized, o.Lr, o.Betas[0], o.Betas[1], o.Eps, o.WeightDecay);
        var schedule = new LrSchedule(config.Scheduler, o.Lr, config.Train.MaxSteps);
        for (var step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            model.ApplyFreezeFor(step);
            optimizer.zero_grad();
            var batch = data.MicroBatches(step, 1, 0, config.Train.GlobalBatchSize).Single();
            var (loss, tokens) = model.LossSum(batch);
            (loss / tokens).backward();
            nn.utils.clip_grad_norm_(optimized.Where(p => p.requires_grad).ToArray(), config.Train.GradClipNorm);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = schedule.At(step);
            optimizer.step();
        }
        return cat(optimized.Select(p => p.detach().reshape(-1)).ToArray());
    }
}
