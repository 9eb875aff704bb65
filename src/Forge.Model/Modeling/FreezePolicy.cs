using System.Text.RegularExpressions;
using Forge.Model.Config;
using static TorchSharp.torch;

namespace Forge.Model.Modeling;

/// <summary>
/// Which parameters train. A spec's module is an alias (vision_encoder, adapter, cross_attention,
/// transformer), a dotted module prefix ("transformer.layers.3"), or a glob over parameter names
/// ("*.attn_norm.*"). Specs apply in order, later ones winning; schedule stages whose start_step
/// has been reached apply after the static specs, in order.
/// </summary>
public sealed class FreezePolicy
{
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        ["vision_encoder"] = "vision_encoder",
        ["adapter"] = "adapter",
        ["cross_attention"] = "transformer.cross_attention_layers",
        ["transformer"] = "transformer",
        ["mot"] = "transformer.layers",
    };

    private readonly IReadOnlyList<FreezeSpec> _specs;
    private readonly IReadOnlyList<FreezeStage> _schedule;
    private readonly HashSet<string> _alwaysFrozen;

    /// <param name="alwaysFrozen">Parameters frozen whatever the specs say (an arch's unused ones).</param>
    public FreezePolicy(IReadOnlyList<FreezeSpec> specs, IReadOnlyList<FreezeStage> schedule, IEnumerable<string>? alwaysFrozen = null)
    {
        _alwaysFrozen = new HashSet<string>(alwaysFrozen ?? [], StringComparer.Ordinal);
        for (var i = 1; i < schedule.Count; i++)
            if (schedule[i].StartStep <= schedule[i - 1].StartStep)
                throw new ArgumentException($"vlm.freeze_schedule: start_step values must strictly increase, but stage {i} starts at {schedule[i].StartStep} after {schedule[i - 1].StartStep}");
        _specs = specs;
        _schedule = schedule;
    }

    /// <summary>The schedule's start steps after 0 (a stage at step 0 only amends the static specs).</summary>
    public IReadOnlyList<long> StageStarts => _schedule.Select(s => s.StartStep).Where(s => s > 0).ToList();

    /// <summary>The specs in force at <paramref name="step"/>, in application order.</summary>
    public IEnumerable<FreezeSpec> SpecsAt(long step) =>
        _specs.Concat(_schedule.Where(s => s.StartStep <= step).SelectMany(s => s.Specs));

    /// <summary>Sets requires_grad on every parameter of <paramref name="root"/> for <paramref name="step"/>; fails on a spec that matches nothing.</summary>
    public void Apply(nn.Module root, long step)
    {
        var parameters = root.named_parameters().ToList();
        var frozen = parameters.ToDictionary(p => p.name, _ => false, StringComparer.Ordinal);
        foreach (var spec in SpecsAt(step))
        {
            var matches = Matcher(spec.Module);
            var hit = false;
            foreach (var (name, _) in parameters)
            {
                if (!matches(name)) continue;
                frozen[name] = spec.Frozen;
                hit = true;
            }
            // The random vision stub has no parameters: freezing it is a no-op, not a typo.
            if (!hit && spec.Module != "vision_encoder")
                throw new ArgumentException($"vlm.freeze: module '{spec.Module}' matches no parameter");
        }
        foreach (var (name, p) in parameters) p.requires_grad = !frozen[name] && !_alwaysFrozen.Contains(name);
    }

    internal static Func<string, bool> Matcher(string module)
    {
        var target = Aliases.GetValueOrDefault(module, module);
        if (target.IndexOfAny(['*', '?']) >= 0)
        {
            var regex = new Regex("^" + Regex.Escape(target).Replace("\\*", ".*").Replace("\\?", ".") + "$", RegexOptions.CultureInvariant);
            return regex.IsMatch;
        }
        return name => name == target || name.StartsWith(target + ".", StringComparison.Ordinal);
    }
}
