using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Forge.Model.Runtime;

namespace Forge.Model.Modeling.Vision.Towers;

/// <summary>fc2(act(fc1(x))) with the tower's activation, HF names mlp.fc1 / mlp.fc2.</summary>
public sealed class TowerMlp : nn.Module<Tensor, Tensor>
{
    public readonly Linear fc1;
    public readonly Linear fc2;
    private readonly Func<Tensor, Tensor> _act;

    public TowerMlp(int dim, int hidden, string activation, Device device) : base(nameof(TowerMlp))
    {
        fc1 = nn.Linear(dim, hidden, device: device);
        fc2 = nn.Linear(hidden, dim, device: device);
        _act = Activation(activation, "config.json");
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return fc2.forward(_act(fc1.forward(x))).MoveToOuterDisposeScope();
    }

    /// <summary>The activations HF's SigLIP and CLIP configs name.</summary>
    /// <exception cref="InvalidDataException">Another activation.</exception>
    public static Func<Tensor, Tensor> Activation(string name, string path) => name switch
    {
        "gelu" => x => nn.functional.gelu(x),
        "gelu_pytorch_tanh" or "gelu_new" => TanhGelu,
        "quick_gelu" => x => x.mul(x.Times(1.702).sigmoid_()),
        _ => throw new InvalidDataException($"{path}: hidden_act = \"{name}\": expected gelu_pytorch_tanh, quick_gelu or gelu"),
    };

    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the approximation SigLIP was trained with.
    private static Tensor TanhGelu(Tensor x)
    {
        using var scope = NewDisposeScope();
        // x * x * x rather than pow(x, 3): pow takes an implicit Scalar (see RootedScalars).
        var inner = x.mul(x).mul_(x).TimesInPlace(0.044715).PlusInPlace(x).TimesInPlace(Math.Sqrt(2.0 / Math.PI));
        return x.mul(inner.tanh_().PlusScalarInPlace(1.0)).TimesInPlace(0.5).MoveToOuterDisposeScope();
    }
}
