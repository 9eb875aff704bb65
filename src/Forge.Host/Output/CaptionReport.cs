using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Forge.Model.Evaluation;
using Spectre.Console;

namespace Forge.Host.Output;

/// <summary>
/// The end-of-run summary of the held-out tests: a table of each test's eval loss, exact-match share
/// and mean similarity under "Held-out tests", then the shown captions of each test under
/// "Captions for held-out images:" (image, reference and generated caption). Every caption generated
/// is saved as captions.jsonl, one {step, test, image, reference, generated} object per line, so the
/// scores can be checked from the file.
/// </summary>
internal static class CaptionReport
{
    // Captions are plain text for people and tools, not HTML: keep '&', quotes and non-ASCII readable.
    private static readonly JsonWriterOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Show(IAnsiConsole console, HeldOutReport report, string path)
    {
        Save(path, report);
        console.MarkupLine($"[bold]Held-out tests[/] (checkpoint at step {report.Step}):");
        var table = new Table().Border(TableBorder.Simple)
            .AddColumn("test").AddColumn(new TableColumn("eval loss").RightAligned())
            .AddColumn(new TableColumn("captioned").RightAligned()).AddColumn(new TableColumn("exact match").RightAligned())
            .AddColumn(new TableColumn("similarity").RightAligned());
        foreach (var test in report.Tests)
            table.AddRow(
                Markup.Escape(test.Name),
                test.EvalLoss is { } loss ? loss.ToString("F4", CultureInfo.InvariantCulture) : "-",
                test.Scores is { } s ? s.Samples.ToString(CultureInfo.InvariantCulture) : "-",
                test.Scores is { } e ? string.Create(CultureInfo.InvariantCulture, $"{e.ExactMatch * 100:F1}%") : "-",
                test.Scores is { } m ? m.Similarity.ToString("F3", CultureInfo.InvariantCulture) : "-");
        console.Write(table);
        foreach (var test in report.Tests) console.MarkupLine($"  [grey]{Markup.Escape(test.Name)}: {Markup.Escape(test.Description)}[/]");

        if (!report.Tests.Any(t => t.ShownCount > 0)) return;
        console.MarkupLine("[bold]Captions for held-out images:[/]");
        foreach (var test in report.Tests.Where(t => t.ShownCount > 0))
        {
            console.MarkupLine($"  [bold]{Markup.Escape(test.Name)}[/]");
            foreach (var caption in test.Shown)
            {
                var mark = CaptionScore.ExactMatch(caption.Reference, caption.Generated) ? "[green]=[/]" : "[red]x[/]";
                console.MarkupLine($"  {mark} {Markup.Escape(Path.GetFileName(caption.ImagePath))}");
                console.MarkupLine($"      reference: {Markup.Escape(caption.Reference)}");
                console.MarkupLine($"      generated: {Markup.Escape(caption.Generated)}");
            }
        }
        console.MarkupLine($"[grey](all {report.Tests.Sum(t => t.Captions.Count)} captions saved to {Markup.Escape(path)})[/]");
    }

    public static void Save(string path, HeldOutReport report)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        foreach (var test in report.Tests)
        foreach (var caption in test.Captions)
        {
            using (var json = new Utf8JsonWriter(file, Readable))
            {
                json.WriteStartObject();
                json.WriteNumber("step", report.Step);
                json.WriteString("test", test.Name);
                json.WriteString("image", caption.ImagePath);
                json.WriteString("reference", caption.Reference);
                json.WriteString("generated", caption.Generated);
                json.WriteEndObject();
            }
            file.WriteByte((byte)'\n');
        }
    }
}
