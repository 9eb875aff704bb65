namespace Forge.Model.Data;

/// <summary>One manifest row: the image (resolved against the manifest's folder), its caption,
/// an optional prompt, and where the row came from, so errors can name the file and line.</summary>
public sealed record ImageTextSample(string ImagePath, string Caption, string? Prompt, string Manifest, int Line)
{
    public string Origin => $"{Manifest}:{Line}";
}
