using Forge.Model.Config;
using SkiaSharp;

namespace Forge.Model.Data;

/// <summary>
/// Random changes to training images that leave their caption true: a square crop of at least
/// <see cref="CropScale"/> of the side (position and size random, scaled back to the image size), a
/// Gaussian blur of sigma up to <see cref="Blur"/> pixels, a brightness, contrast and saturation
/// change of up to ±<see cref="Colour"/>, and a left-right mirror with probability <see cref="Flip"/>
/// (vendors draw many emoji facing the other way). With one drawing per name a model can learn a name from
/// pixel details that only that artist draws; varying the details that do not name the emoji makes it
/// rely on what another artist also draws (data.unseen_art_manifest measures that).
/// <para>
/// The draw is a function of the data seed and the sample's position in the sample stream, so a
/// resumed or re-sharded run, and every rank, sees the same augmented images as an uninterrupted one.
/// Held-out sets are never augmented.
/// </para>
/// </summary>
public sealed record ImageAugmentation(double CropScale, double Blur, double Colour, double Flip, long Seed)
{
    public bool IsIdentity => CropScale >= 1 && Blur <= 0 && Colour <= 0 && Flip <= 0;

    public static ImageAugmentation FromConfig(DataConfig data) =>
        new(data.AugmentCrop, data.AugmentBlur, data.AugmentColour, data.AugmentFlip, data.Seed);

    /// <summary>The changes for sample <paramref name="sampleIndex"/> of the stream.</summary>
    public ImageAugmentationDraw Draw(long sampleIndex)
    {
        var random = new Random(unchecked((int)Mix(Seed, sampleIndex)));
        var side = CropScale >= 1 ? 1.0 : CropScale + (1 - CropScale) * random.NextDouble();
        var crop = SKRect.Create((float)((1 - side) * random.NextDouble()), (float)((1 - side) * random.NextDouble()), (float)side, (float)side);
        var blur = Blur > 0 ? (float)(Blur * random.NextDouble()) : 0f;
        double Jitter() => Colour > 0 ? 1 + Colour * (2 * random.NextDouble() - 1) : 1;
        var (brightness, contrast, saturation) = (Jitter(), Jitter(), Jitter());
        // Drawn last, and only when asked for, so that a run without it sees the images it saw before.
        var mirrored = Flip > 0 && random.NextDouble() < Flip;
        return new ImageAugmentationDraw(crop, blur, brightness, contrast, saturation, mirrored);
    }

    // SplitMix64's finaliser: neighbouring sample indices get unrelated seeds.
    private static ulong Mix(long seed, long index)
    {
        var z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)index);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
