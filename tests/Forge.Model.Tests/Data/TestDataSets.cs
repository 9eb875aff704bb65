using System.Text.Json;
using Forge.Model.Data;
using Forge.Model.Text;

namespace Forge.Model.Tests.Data;

/// <summary>Builds small manifests with solid-colour images (row i has <see cref="TestImages.RowColour"/>).</summary>
public static class TestDataSets
{
    /// <summary>Writes rows.Length images and a manifest `name` whose row i captions image i; returns the manifest path.</summary>
    public static string WriteManifest(TemporaryFolder folder, string name, IReadOnlyList<(string Caption, string? Prompt)> rows, int imageSize = 4)
    {
        var lines = new List<string>();
        for (var i = 0; i < rows.Count; i++)
        {
            var image = $"images/{Path.GetFileNameWithoutExtension(name)}-{i}.png";
            TestImages.WriteSolid(folder.File(image), imageSize, TestImages.RowColour(i));
            lines.Add(JsonSerializer.Serialize(rows[i].Prompt is null
                ? (object)new { image, caption = rows[i].Caption }
                : new { image, caption = rows[i].Caption, prompt = rows[i].Prompt }));
        }
        return folder.WriteText(name, string.Join('\n', lines) + "\n");
    }

    public static string WriteNumbered(TemporaryFolder folder, string name, int count, int imageSize = 4) =>
        WriteManifest(folder, name, [.. Enumerable.Range(0, count).Select(i => ($"sample {i}", (string?)null))], imageSize);

    public static ImageTextDataset Open(string manifest, int imageSize = 4, int maxTextLen = 16, bool skipBadSamples = false) => new(
        ImageTextManifest.Load(manifest, skipBadSamples),
        new ImageTransform(imageSize, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),
        new CaptionEncoder(new ByteTokenizer(), maxTextLen),
        skipBadSamples);
}
