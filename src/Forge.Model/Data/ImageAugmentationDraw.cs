using SkiaSharp;

namespace Forge.Model.Data;

/// <summary>
/// One sample's augmentation: the crop as fractions of the centred square, the blur sigma in output
/// pixels, and brightness, contrast and saturation factors (1 = unchanged).
/// </summary>
public sealed record ImageAugmentationDraw(SKRect Crop, float BlurSigma, double Brightness, double Contrast, double Saturation)
{
    public bool ChangesColour => Brightness != 1 || Contrast != 1 || Saturation != 1;
}
