using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Forge.Model.Optim;

/// <summary>
/// The trained parameters of a module in <c>named_parameters()</c> order, laid end to end in one
/// flat vector padded to a multiple of the world size, so every rank owns an equal contiguous shard.
/// Binding re-points each parameter (and its gradient) at a view of one flat buffer: an all-gather
/// into the buffer then updates the parameters in place, and backward accumulates straight into
/// the flat gradient that the reduce-scatter reads, with no per-parameter copies on the step path.
/// </summary>
public sealed class FlatParameterLayout
{
    private FlatParameterLayout(IReadOnlyList<FlatParameter> parameters, long numel, int worldSize)
    {
        Parameters = parameters;
        Numel = numel;
        WorldSize = worldSize;
        ShardLength = ShardRange.For(numel, 0, worldSize).Length;
        PaddedNumel = ShardRange.PaddedNumel(numel, worldSize);
    }

    public IReadOnlyList<FlatParameter> Parameters { get; }

    /// <summary>Elements that belong to parameters; the tail up to <see cref="PaddedNumel"/> is padding.</summary>
    public long Numel { get; }

    public long PaddedNumel { get; }
    public int WorldSize { get; }
    public long ShardLength { get; }

    public FlatLayoutInfo Info => new(Parameters, Numel, PaddedNumel);

    /// <summary>
    /// The layout of <paramref name="module"/>'s parameters named in <paramref name="names"/> (default: those
    /// with requires_grad) for a world of <paramref name="worldSize"/> ranks. A run with a freeze schedule
    /// passes every parameter that trains in any stage (<see cref="Training.FreezeStages.LayoutNames"/>).
    /// </summary>
    public static FlatParameterLayout For(nn.Module module, int worldSize, IReadOnlyCollection<string>? names = null)
    {
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "world size must be at least 1");
        var wanted = names is null ? null : new HashSet<string>(names, StringComparer.Ordinal);
        var entries = new List<FlatParameter>();
        long offset = 0;
        foreach (var (name, parameter) in module.named_parameters())
        {
            if (wanted is null ? !parameter.requires_grad : !wanted.Remove(name)) continue;
            var numel = parameter.numel();
            entries.Add(new FlatParameter(name, parameter.shape, offset, numel));
            offset += numel;
        }
        if (wanted is { Count: > 0 })
            throw new ArgumentException($"the module has no parameter named {string.Join(", ", wanted.Select(n => $"'{n}'"))}");
        if (entries.Count == 0) throw new InvalidOperationException("the model has no trainable parameters (every parameter has requires_grad = false)");
        return new FlatParameterLayout(entries, offset, worldSize);
    }

    /// <summary>The element range [Start, Start + Length) of the padded flat vector that <paramref name="rank"/> owns.</summary>
    public ShardRange ShardOf(int rank) => ShardRange.For(Numel, rank, WorldSize);

    /// <summary>A new flat tensor holding the module's current trainable values (padding zero).</summary>
    public Tensor Gather(nn.Module module, ScalarType dtype, Device device)
    {
        var flat = zeros(PaddedNumel, dtype: dtype, device: device);
        using var _ = no_grad();
        foreach (var (entry, parameter) in Match(module))
            flat.narrow(0, entry.Offset, entry.Numel).copy_(parameter.detach().reshape(-1));
        return flat;
    }

    /// <summary>
    /// Makes every trainable parameter a view of <paramref name="flatParameters"/> and its gradient a view
    /// of <paramref name="flatGradients"/>. Parameter values are taken from the flat buffer, not the module.
    /// Autograd accumulates into an existing gradient in place, so the gradient views stay bound as long
    /// as nobody sets <c>grad</c> to null (zero the flat gradient instead).
    /// </summary>
    public void Bind(nn.Module module, Tensor flatParameters, Tensor flatGradients)
    {
        RequireFlat(flatParameters, nameof(flatParameters));
        RequireFlat(flatGradients, nameof(flatGradients));
        if (flatParameters.dtype != flatGradients.dtype)
            throw new ArgumentException($"parameter buffer is {flatParameters.dtype} but gradient buffer is {flatGradients.dtype}");
        using var _ = no_grad();
        foreach (var (entry, parameter) in Match(module))
        {
            if (parameter.dtype != flatParameters.dtype || parameter.device_type != flatParameters.device_type || parameter.device_index != flatParameters.device_index)
                throw new ArgumentException(
                    $"parameter '{entry.Name}' is {parameter.dtype} on {parameter.device} but the flat buffer is {flatParameters.dtype} on {flatParameters.device}");
            parameter.set_(flatParameters.narrow(0, entry.Offset, entry.Numel).view(entry.Shape));
            parameter.grad = flatGradients.narrow(0, entry.Offset, entry.Numel).view(entry.Shape);
        }
    }

    /// <summary>True when <paramref name="name"/> is in the layout.</summary>
    public bool Contains(string name) => Parameters.Any(p => p.Name == name);

    private IEnumerable<(FlatParameter Entry, Parameter Parameter)> Match(nn.Module module)
    {
        var byName = module.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        foreach (var entry in Parameters)
        {
            if (!byName.TryGetValue(entry.Name, out var parameter) || !entry.Shape.SequenceEqual(parameter.shape))
                throw new InvalidOperationException(
                    $"the module does not match the flat layout (a different model?): layout entry '{entry.Name}' [{string.Join(", ", entry.Shape)}] is " +
                    (parameter is null ? "missing" : $"[{string.Join(", ", parameter.shape)}] in the module"));
            yield return (entry, parameter);
        }
    }

    private void RequireFlat(Tensor tensor, string name)
    {
        if (tensor.dim() != 1 || tensor.shape[0] != PaddedNumel || !tensor.is_contiguous())
            throw new ArgumentException($"{name} must be a contiguous 1-D tensor of {PaddedNumel} elements, got shape [{string.Join(", ", tensor.shape)}]");
    }
}
