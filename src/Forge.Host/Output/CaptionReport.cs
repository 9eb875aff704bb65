using System.Text.Encodings.Web;
using System.Text.Json;
using Forge.Model.Evaluation;
using Spectre.Console;

namespace Forge.Host.Output;

/// <summary>
/// The end-of-run captions: printed under "Captions for held-out images:" (image, reference and
/// generated caption) and saved as captions.jsonl, one {step, image, reference, generated} object per line.
/// </summary>
internal static class CaptionReport
{
    // Captions are plain text for people and tools, not HTML: keep '&', quotes and non-ASCII readable.
    private static readonly JsonWriterOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Show(IAnsiConsole console, long step, IReadOnlyList<GeneratedCaption> captions, string path)
    {
        Save(path, step, captions);
        console.MarkupLine("[bold]Captions for held-out images:[/]");
        foreach (var caption in captions)
        {
            console.MarkupLine($"  {Markup.Escape(Path.GetFileName(caption.ImagePath))}");
            console.MarkupLine($"    reference: {Markup.Escape(caption.Reference)}");
            console.MarkupLine($"    generated: {Markup.Escape(caption.Generated)}");
        }
        console.MarkupLine($"[grey](checkpoint at step {step}; saved to {Markup.Escape(path)})[/]");
    }

    public static void Save(string path, long step, IReadOnlyList<GeneratedCaption> captions)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        foreach (var caption in captions)
        {
            using (var json = new Utf8JsonWriter(file, Readable))
            {
                json.WriteStartObject();
                json.WriteNumber("step", step);
                json.WriteString("image", caption.ImagePath);
                json.WriteString("reference", caption.Reference);
                json.WriteString("generated", caption.Generated);
                json.WriteEndObject();
            }
            file.WriteByte((byte)'\n');
        }
    }
}
