using System.Buffers.Binary;
using System.Numerics;

namespace Forge.Host.Output.TensorBoard;

/// <summary>
/// The checksum TFRecord framing uses: CRC-32C (Castagnoli), then TensorFlow's mask, a rotation
/// plus a constant so a CRC stored inside checksummed data does not checksum to a fixed value.
/// <see cref="BitOperations.Crc32C(uint, ulong)"/> is the hardware instruction where the CPU has
/// one; it is the raw register update, so the standard pre- and post-inversion are applied here.
/// </summary>
public static class MaskedCrc32C
{
    private const uint MaskDelta = 0xa282ead8;

    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (var b in data) crc = BitOperations.Crc32C(crc, b);
        return ~crc;
    }

    public static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + MaskDelta;

    public static uint Compute(ReadOnlySpan<byte> data) => Mask(Crc32C(data));
}
