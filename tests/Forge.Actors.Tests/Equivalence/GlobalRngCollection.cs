namespace Forge.Actors.Tests.Equivalence;

/// <summary>
/// Tests whose models are initialised from torch's process-wide RNG (manual_seed) run alone: any
/// module built concurrently by another test draws from the same generator and changes the weights.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRngCollection
{
    public const string Name = "torch global RNG";
}
