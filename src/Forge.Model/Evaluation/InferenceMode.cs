using Forge.Model.Modeling;
using static TorchSharp.torch;

namespace Forge.Model.Evaluation;

/// <summary>
/// Puts a model in eval mode without autograd for a using-block, then restores the training
/// mode it found: eval and generation run in the middle of training and must not leave dropout
/// off or grad mode changed for the next step.
/// </summary>
internal sealed class InferenceMode : IDisposable
{
    private readonly ITrainableModel _model;
    private readonly bool _wasTraining;
    private readonly IDisposable _noGrad;

    public InferenceMode(ITrainableModel model)
    {
        _model = model;
        _wasTraining = model.Module.training;
        model.Module.eval();
        _noGrad = no_grad();
    }

    public void Dispose()
    {
        _noGrad.Dispose();
        if (_wasTraining) _model.Module.train();
    }
}
