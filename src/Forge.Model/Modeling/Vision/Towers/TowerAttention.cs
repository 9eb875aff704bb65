using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling.Vision.Towers;

/// <summary>
/// SigLIP's and CLIP's self-attention: biased q/k/v/out projections (HF names), every patch
/// attending to every patch, no positions (they were added to the embeddings).
/// </summary>
public sealed class TowerAttention : nn.Module<Tensor, Tensor>
{
    public readonly Linear q_proj;
    public readonly Linear k_proj;
    public readonly Linear v_proj;
    public readonly Linear out_proj;
    private readonly int _heads;

    public TowerAttention(int dim, int heads, Device device) : base(nameof(TowerAttention))
    {
        _heads = heads;
        q_proj = nn.Linear(dim, dim, device: device);
        k_proj = nn.Linear(dim, dim, device: device);
        v_proj = nn.Linear(dim, dim, device: device);
        out_proj = nn.Linear(dim, dim, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (b, t, d) = (x.shape[0], x.shape[1], x.shape[2]);
        Tensor Heads(Linear proj) => proj.forward(x).view(b, t, _heads, d / _heads).transpose(1, 2);
        var attended = nn.functional.scaled_dot_product_attention(Heads(q_proj), Heads(k_proj), Heads(v_proj));
        return out_proj.forward(attended.transpose(1, 2).reshape(b, t, d)).MoveToOuterDisposeScope();
    }
}
