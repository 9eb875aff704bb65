using SkiaSharp;

namespace Forge.Model.Data;

/// <summary>
/// One sample's augmentation: the crop as fractions of the centred square, the blur sigma in output
/// pixels, brightness, contrast and saturation factors (1 = unchanged), and whether the image is
/// mirrored left to right.
/// </summary>
public sealed record ImageAugmentationDraw(SKRect Crop, float BlurSigma, double Brightness, double Contrast, double Saturation, bool Mirrored)
{
    /// <summary>Whether the image must be drawn through a canvas (anything but the whole image, as it is).</summary>
    public bool ChangesGeometry => Crop != SKRect.Create(0, 0, 1, 1) || BlurSigma > 0 || Mirrored;

    public bool ChangesColour => Brightness != 1 || Contrast != 1 || Saturation != 1;
}
