namespace Forge.Model.Evaluation;

/// <summary>A held-out image, its reference caption and what the model wrote for it.</summary>
public sealed record GeneratedCaption(string ImagePath, string Reference, string Generated)
{
    public override string ToString() => $"{ImagePath}: \"{Generated}\" (reference: \"{Reference}\")";
}
