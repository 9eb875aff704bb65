namespace Forge.Model.Data;

/// <summary>One manifest row: the image (resolved against the manifest's folder), its caption,
/// an optional prompt, where the row came from, so errors can name the file and line, and its optional
/// category (the row's "category", which data.categories selects by).</summary>
public sealed record ImageTextSample(string ImagePath, string Caption, string? Prompt, string Manifest, int Line, string? Category = null)
{
    public string Origin => $"{Manifest}:{Line}";
}
