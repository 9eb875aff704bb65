using System.Collections.Concurrent;
using Forge.Model.Config;
using Forge.Model.Text;

namespace Forge.Model.Data;

/// <summary>
/// A manifest with its image transform and caption layout: turns data set rows into decoded,
/// tokenised rows of fixed shape. Thread-safe, so several loader threads can fill rows at once.
/// <para>
/// Bad rows: the manifest load already checked every line and image header. An image that still
/// fails to decode (a truncated file, say) throws with its file and line, or, when
/// data.skip_bad_samples is true, is counted once in <see cref="BadSamples"/> and its row is
/// masked: a blank image and labels all -100, so it adds no loss and no target tokens while every
/// batch keeps the sampler's shape and order.
/// </para>
/// </summary>
public sealed class ImageTextDataset
{
    private readonly ConcurrentDictionary<int, BadSample> _undecodable = new();

    /// <param name="augmentation">Changes rows filled with a sample index (training); null or identity: none.</param>
    public ImageTextDataset(ImageTextManifest manifest, ImageTransform transform, CaptionEncoder captions, bool skipBadSamples,
        ImageAugmentation? augmentation = null)
    {
        Manifest = manifest;
        Transform = transform;
        Captions = captions;
        SkipBadSamples = skipBadSamples;
        Augmentation = augmentation is { IsIdentity: false } ? augmentation : null;
    }

    /// <summary>
    /// Opens a manifest with the `[data]` settings and `vlm.max_text_len`; a <paramref name="training"/>
    /// set also gets the data.augment_* augmentation.
    /// </summary>
    public static ImageTextDataset Open(string manifestPath, DataConfig data, int maxTextLen, bool training = false) =>
        Open(ImageTextManifest.Load(manifestPath, data.SkipBadSamples), data, maxTextLen, training);

    /// <summary>
    /// The training set of a job: the rows of every data.manifest in the categories of data.categories,
    /// with the data.augment_* augmentation.
    /// </summary>
    public static ImageTextDataset Training(JobConfig config) => Open(
        CategorySelection.Training(ImageTextManifest.Load(config.Data.Manifests, config.Data.SkipBadSamples), config.Data.Categories),
        config.Data, config.Vlm.MaxTextLen, training: true);

    /// <summary>A loaded (possibly filtered) manifest with the `[data]` settings and `vlm.max_text_len`.</summary>
    public static ImageTextDataset Open(ImageTextManifest manifest, DataConfig data, int maxTextLen, bool training = false) => new(
        manifest,
        new ImageTransform(data.ImageSize, data.Mean, data.Std),
        new CaptionEncoder(TokenizerCatalog.Create(data.Tokenizer), maxTextLen),
        data.SkipBadSamples,
        training ? ImageAugmentation.FromConfig(data) : null);

    /// <summary>The training augmentation, or null (held-out sets, or none configured).</summary>
    public ImageAugmentation? Augmentation { get; }

    public ImageTextManifest Manifest { get; }
    public ImageTransform Transform { get; }
    public CaptionEncoder Captions { get; }
    public ITextTokenizer Tokenizer => Captions.Tokenizer;
    public bool SkipBadSamples { get; }

    public int Count => Manifest.Samples.Count;
    public ImageTextSample this[int row] => Manifest.Samples[row];

    /// <summary>Rows skipped at load plus rows whose image failed to decode later (each counted once).</summary>
    public IReadOnlyList<BadSample> BadSamples =>
        [.. Manifest.Skipped, .. _undecodable.Values.OrderBy(b => b.Line)];

    /// <summary>
    /// Decodes and tokenises one row into the given spans; with the sample's index in the sample stream,
    /// the image is augmented by that sample's draw (when the set has an augmentation).
    /// </summary>
    public void Fill(int row, Span<float> pixels, Span<long> inputIds, Span<long> labels, long? sampleIndex = null)
    {
        var sample = Manifest.Samples[row];
        try
        {
            Transform.DecodeInto(sample.ImagePath, pixels, sampleIndex is { } index ? Augmentation?.Draw(index) : null);
        }
        catch (InvalidDataException e)
        {
            if (!SkipBadSamples)
                throw new InvalidDataException($"{sample.Origin}: {e.Message}; set data.skip_bad_samples = true to skip and count such rows", e);
            _undecodable.TryAdd(row, new BadSample(sample.Manifest, sample.Line, e.Message));
            pixels.Clear();
            inputIds.Fill(Tokenizer.PadId);
            labels.Fill(CaptionEncoder.IgnoreIndex);
            return;
        }
        Captions.Encode(sample.Prompt, sample.Caption, inputIds, labels);
    }

    /// <summary>
    /// The one way rows become a batch: an undecoded batch shaped by this data set's image size and
    /// max_text_len, whose rows <see cref="Decode"/> then fills. Row by row, so the prefetcher's
    /// loader threads can decode the rows of one batch at once, while <see cref="Collate"/> decodes
    /// them all on the calling thread.
    /// </summary>
    internal CollatedBatch Allocate(IReadOnlyList<int> rows, long[] sampleIndices) =>
        new(rows, sampleIndices, Transform.ImageSize, Captions.MaxTextLen);

    /// <summary>Decodes batch row <paramref name="i"/> from its data set row; distinct rows may be decoded concurrently.</summary>
    internal void Decode(CollatedBatch batch, int i) =>
        Fill(batch.DatasetRows[i], batch.PixelsOf(i), batch.InputIdsOf(i), batch.LabelsOf(i), batch.SampleIndices[i]);

    /// <summary>Decodes the given rows on the calling thread into one batch.</summary>
    internal CollatedBatch Collate(IReadOnlyList<int> rows, long[] sampleIndices)
    {
        var batch = Allocate(rows, sampleIndices);
        for (var i = 0; i < batch.Rows; i++) Decode(batch, i);
        return batch;
    }

    /// <summary>The given rows as a tensor batch (built on the calling thread); SampleIndices are the rows.</summary>
    public ImageTextBatch Batch(IReadOnlyList<int> rows) =>
        Collate(rows, [.. rows.Select(r => (long)r)]).ToBatch();
}
