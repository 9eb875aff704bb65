using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Forge.Actors.Collectives.Tcp;

/// <summary>
/// dst = a + b over raw element buffers, for the CPU backend's reductions. Hand-written because the
/// operands are socket buffers, not tensors: wrapping each received chunk as a tensor would cost an
/// allocation and a dispatch per chunk, while SIMD loops over spans run at memory speed. bfloat16
/// and float16 are summed in fp32 and rounded once (to nearest even), like GPU reductions do.
/// </summary>
internal static unsafe class ElementwiseSum
{
    /// <summary>Elements per span: keeps every span well under int.MaxValue bytes.</summary>
    private const long Block = 1 << 26;

    public static bool Supports(ScalarType dtype) => dtype is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Int64
        or ScalarType.Int32 or ScalarType.BFloat16 or ScalarType.Float16;

    public static void Add(ScalarType dtype, IntPtr a, IntPtr b, IntPtr dst, long count)
    {
        for (long done = 0; done < count; done += Block)
        {
            var n = (int)Math.Min(Block, count - done);
            switch (dtype)
            {
                case ScalarType.Float32: AddVector<float>(a, b, dst, done, n); break;
                case ScalarType.Float64: AddVector<double>(a, b, dst, done, n); break;
                case ScalarType.Int64: AddVector<long>(a, b, dst, done, n); break;
                case ScalarType.Int32: AddVector<int>(a, b, dst, done, n); break;
                case ScalarType.BFloat16: AddBFloat16(Span<ushort>(a, done, n), Span<ushort>(b, done, n), Span<ushort>(dst, done, n)); break;
                case ScalarType.Float16: AddHalf(Span<Half>(a, done, n), Span<Half>(b, done, n), Span<Half>(dst, done, n)); break;
                default: throw new ArgumentException($"the CPU collective backend cannot sum {dtype} tensors");
            }
        }
    }

    private static Span<T> Span<T>(IntPtr p, long offset, int n) where T : unmanaged => new((T*)p + offset, n);

    private static void AddVector<T>(IntPtr a, IntPtr b, IntPtr dst, long offset, int n) where T : unmanaged, INumber<T>
    {
        var x = Span<T>(a, offset, n);
        var y = Span<T>(b, offset, n);
        var z = Span<T>(dst, offset, n);
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vx = MemoryMarshal.Cast<T, Vector<T>>(x);
            var vy = MemoryMarshal.Cast<T, Vector<T>>(y);
            var vz = MemoryMarshal.Cast<T, Vector<T>>(z);
            for (var v = 0; v < vz.Length; v++) vz[v] = vx[v] + vy[v];
            i = vz.Length * Vector<T>.Count;
        }
        for (; i < n; i++) z[i] = x[i] + y[i];
    }

    private static void AddBFloat16(Span<ushort> x, Span<ushort> y, Span<ushort> z)
    {
        for (var i = 0; i < z.Length; i++) z[i] = ToBFloat16(FromBFloat16(x[i]) + FromBFloat16(y[i]));
    }

    private static void AddHalf(Span<Half> x, Span<Half> y, Span<Half> z)
    {
        for (var i = 0; i < z.Length; i++) z[i] = (Half)((float)x[i] + (float)y[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float FromBFloat16(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort ToBFloat16(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return 0x7FC0;
        var roundingBias = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }
}
