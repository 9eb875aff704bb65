using System.Text.Json;
using SkiaSharp;

namespace Forge.Model.Data;

/// <summary>
/// A JSONL image-caption manifest: one object per line,
/// <c>{"image": "images/1f600.png", "caption": "grinning face", "prompt": "optional", "category": "optional"}</c>,
/// image paths relative to the manifest's folder (absolute paths are kept). Other keys are
/// ignored; blank lines are allowed.
/// <para>
/// Loading checks every row up front: the JSON, the two required strings, that the image exists
/// and that its header is a format SkiaSharp decodes (a header read, not a decode, so it costs a
/// file open per row). A bad row either fails the load with an error naming file and line, or is
/// skipped and listed in <see cref="Skipped"/>.
/// </para>
/// </summary>
public sealed class ImageTextManifest
{
    private ImageTextManifest(string path, IReadOnlyList<ImageTextSample> samples, IReadOnlyList<BadSample> skipped)
    {
        Path = path;
        Samples = samples;
        Skipped = skipped;
    }

    public string Path { get; }
    public IReadOnlyList<ImageTextSample> Samples { get; }
    public IReadOnlyList<BadSample> Skipped { get; }

    public static ImageTextManifest Load(string path, bool skipBadSamples)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"data manifest '{path}' does not exist (for the emoji set run scripts/fetch-emoji.sh)", path);

        var folder = System.IO.Path.GetDirectoryName(path) ?? "";
        var parsed = new List<ImageTextSample>();
        var bad = new List<BadSample>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            if (TryParse(line, path, lineNumber, folder, out var sample, out var reason)) parsed.Add(sample);
            else bad.Add(new BadSample(path, lineNumber, reason));
        }

        // Image checks are file opens: run them in parallel, then report in line order so the
        // error a user sees does not depend on thread timing.
        var imageProblems = new string?[parsed.Count];
        Parallel.For(0, parsed.Count, i => imageProblems[i] = CheckImage(parsed[i].ImagePath));
        var samples = new List<ImageTextSample>(parsed.Count);
        for (var i = 0; i < parsed.Count; i++)
        {
            if (imageProblems[i] is { } problem) bad.Add(new BadSample(path, parsed[i].Line, problem));
            else samples.Add(parsed[i]);
        }

        bad.Sort((a, b) => a.Line.CompareTo(b.Line));
        if (bad.Count > 0 && !skipBadSamples)
            throw new InvalidDataException(
                $"{bad[0]}" + (bad.Count > 1 ? $" (and {bad.Count - 1} more bad rows)" : "") +
                "; fix the manifest or set data.skip_bad_samples = true to skip and count them");
        if (samples.Count == 0)
            throw new InvalidDataException($"{path}: no usable samples ({bad.Count} bad rows skipped)");
        return new ImageTextManifest(path, samples, bad);
    }

    /// <summary>
    /// Several manifests as one set (data.manifest's list): every row of each, in the order listed, each
    /// row keeping its own manifest and line for errors. <see cref="Path"/> names them all.
    /// </summary>
    public static ImageTextManifest Load(IReadOnlyList<string> paths, bool skipBadSamples)
    {
        if (paths.Count == 0) throw new ArgumentException("no manifest to load (data.manifest is an empty list)", nameof(paths));
        if (paths.Count == 1) return Load(paths[0], skipBadSamples);
        var parts = paths.Select(path => Load(path, skipBadSamples)).ToList();
        return new ImageTextManifest(string.Join(", ", paths), [.. parts.SelectMany(p => p.Samples)], [.. parts.SelectMany(p => p.Skipped)]);
    }

    /// <summary>
    /// The rows <paramref name="keep"/> accepts, with this manifest's path and skipped rows; fails like a
    /// load when none is left, naming <paramref name="rule"/>.
    /// </summary>
    public ImageTextManifest Where(Func<ImageTextSample, bool> keep, string rule)
    {
        var kept = Samples.Where(keep).ToList();
        if (kept.Count == 0) throw new InvalidDataException($"{Path}: no usable samples {rule}");
        return new ImageTextManifest(Path, kept, Skipped);
    }

    private static bool TryParse(string line, string manifest, int lineNumber, string folder, out ImageTextSample sample, out string reason)
    {
        sample = null!;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            reason = $"malformed JSON ({e.Message})";
            return false;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                reason = $"expected a JSON object with \"image\" and \"caption\", got {root.ValueKind}";
                return false;
            }
            if (!TryString(root, "image", required: true, out var image, out reason)) return false;
            if (!TryString(root, "caption", required: true, out var caption, out reason)) return false;
            if (!TryString(root, "prompt", required: false, out var prompt, out reason)) return false;
            if (!TryString(root, "category", required: false, out var category, out reason)) return false;
            sample = new ImageTextSample(System.IO.Path.Combine(folder, image!), caption!, prompt, manifest, lineNumber, category);
            return true;
        }
    }

    private static bool TryString(JsonElement root, string key, bool required, out string? value, out string reason)
    {
        value = null;
        reason = "";
        if (!root.TryGetProperty(key, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            if (!required) return true;
            reason = $"missing \"{key}\" (expected a non-empty string)";
            return false;
        }
        if (element.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(element.GetString()))
        {
            reason = $"\"{key}\" must be a non-empty string, got {element.GetRawText()}";
            return false;
        }
        value = element.GetString();
        return true;
    }

    private static string? CheckImage(string imagePath)
    {
        if (!File.Exists(imagePath)) return $"image '{imagePath}' does not exist";
        using var codec = SKCodec.Create(imagePath);
        return codec is null ? $"image '{imagePath}' is not a PNG or JPEG SkiaSharp can decode" : null;
    }
}
