using Forge.Actors.Protocol;
using Forge.Actors.Ranks;
using Forge.Model.Config;
using Forge.Model.Data;
using Forge.Model.Distributed;
using Forge.Model.Evaluation;
using Forge.Model.Optim;
using Forge.Model.Runtime;
using Forge.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Actors.Training;

/// <summary>
/// The production engine factory: every rank trains the configured vision-language model with
/// <see cref="ShardedRankEngine"/> on the process's shared batch source for the job's global batch size
/// (fixed by the supervisor, sent with the world), and scores the shared held-out sets (unseen names,
/// unseen art) on eval steps when they are given.
/// </summary>
public sealed class VisionLanguageEngineFactory(
    JobConfig config, BatchSources data, HeldOutEvaluator? heldOut = null, HeldOutEvaluator? unseenArt = null) : IRankEngineFactory
{
    // One factory serves every rank of the process, each on its own torch thread; the device a
    // thread was prepared for is therefore per-thread state, like torch's own current device.
    [ThreadStatic] private static int _device;

    public void PrepareThread(int device)
    {
        _device = device;
        if (device >= 0) CudaRuntime.SetDevice(device);
    }

    public IRankEngine Create(RankAssignment assignment, ICollectives collectives, OptimizerShard? restored)
    {
        var device = _device >= 0 ? torch.device(DeviceType.CUDA, _device) : CPU;
        return ShardedRankEngine.ForVisionLanguageModel(config, data.For(assignment.GlobalBatchSize), collectives, device, restored, heldOut, unseenArt);
    }
}
