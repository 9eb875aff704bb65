using System.Text.Json;
using System.Text.Json.Nodes;

namespace Forge.Model.Modeling.Vision.Towers;

/// <summary>
/// A tower's own image preprocessing from its <c>preprocessor_config.json</c>: the side it is fed
/// (size.height/width, or crop_size after a shortest_edge resize), and the per-channel mean and std
/// applied after the 1/255 rescale.
/// </summary>
public sealed record HfImagePreprocessing(int ImageSize, IReadOnlyList<double> Mean, IReadOnlyList<double> Std, bool CenterCrop)
{
    public const string FileName = "preprocessor_config.json";

    /// <exception cref="InvalidDataException">A setting the data pipeline cannot reproduce; names the key.</exception>
    public static HfImagePreprocessing Read(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{directory}: no {FileName} (the tower's image preprocessing)", path);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON: {e.Message}", e);
        }
        var rescale = root["rescale_factor"]?.GetValue<double>() ?? 1 / 255.0;
        if ((root["do_rescale"]?.GetValue<bool>() ?? true) && Math.Abs(rescale * 255.0 - 1.0) > 1e-9)
            throw new InvalidDataException($"{path}: rescale_factor = {rescale}: expected 1/255");
        var normalize = root["do_normalize"]?.GetValue<bool>() ?? true;
        var mean = normalize ? Triple(root, path, "image_mean") : [0.0, 0.0, 0.0];
        var std = normalize ? Triple(root, path, "image_std") : [1.0, 1.0, 1.0];
        var crop = root["do_center_crop"]?.GetValue<bool>() ?? false;
        int side;
        if (crop)
            side = Side(root["crop_size"], path, "crop_size");
        else
            side = Side(root["size"], path, "size");
        return new HfImagePreprocessing(side, mean, std, crop);
    }

    private static int Side(JsonNode? node, string path, string key)
    {
        switch (node)
        {
            case JsonObject o when o["height"] is not null && o["width"] is not null:
                var (h, w) = (o["height"]!.GetValue<int>(), o["width"]!.GetValue<int>());
                if (h != w) throw new InvalidDataException($"{path}: {key} = {node.ToJsonString()}: expected a square (height = width)");
                return h;
            case JsonObject o when o["shortest_edge"] is not null:
                return o["shortest_edge"]!.GetValue<int>();
            case JsonValue v when v.TryGetValue<int>(out var s):
                return s;
            default:
                throw new InvalidDataException($"{path}: {key} = {node?.ToJsonString() ?? "missing"}: expected {{\"height\": N, \"width\": N}} or {{\"shortest_edge\": N}}");
        }
    }

    private static double[] Triple(JsonObject root, string path, string key)
    {
        if (root[key] is JsonArray a && a.Count == 3) return a.Select(x => x!.GetValue<double>()).ToArray();
        throw new InvalidDataException($"{path}: {key} = {root[key]?.ToJsonString() ?? "missing"}: expected three numbers (R, G, B)");
    }
}
