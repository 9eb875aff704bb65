using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>Token ids to vectors. A wrapper only so the state-dict name is KempnerForge's token_embedding.embedding.weight.</summary>
public sealed class TokenEmbedding : nn.Module<Tensor, Tensor>
{
    public readonly Embedding embedding;

    public TokenEmbedding(int vocab, int dim, Device? device = null) : base(nameof(TokenEmbedding))
    {
        embedding = nn.Embedding(vocab, dim, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids) => embedding.forward(ids);
}
