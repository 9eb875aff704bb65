using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Runtime;

/// <summary>
/// Tensor arithmetic whose Scalar arguments stay alive for the whole native call.
/// </summary>
/// <remarks>
/// TorchSharp 0.107 methods that take a <see cref="Scalar"/> read its native handle and call
/// libtorch without keeping the Scalar object reachable. A Scalar made implicitly (x.add(y) passes
/// a fresh 1 as alpha; x.mul(0.5) converts 0.5) is garbage once its handle is read, so a collection
/// during the native call may run its finalizer, which frees the native scalar while libtorch reads
/// it. We saw it once on a CPU run, at step 786: c10::Scalar::toFloat failed inside add. Loader
/// threads allocate images all the time, so collections during a step are common.
/// Code on the step path therefore passes Scalars rooted for the call: the static ones below live
/// for the process, and the helpers hold a per-call Scalar in a using scope until libtorch returns.
/// </remarks>
public static class RootedScalars
{
    /// <summary>alpha = 1 for tensor + tensor.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a += b (in place).</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>t + value.</summary>
    public static Tensor PlusScalar(this Tensor t, double value) => With(value, s => t.add(s, One));

    /// <summary>t += value (in place).</summary>
    public static Tensor PlusScalarInPlace(this Tensor t, double value) => With(value, s => t.add_(s, One));

    /// <summary>t != value, elementwise.</summary>
    public static Tensor NotEqualTo(this Tensor t, long value)
    {
        using var s = value.ToScalar();
        return t.ne(s);
    }

    /// <summary>t * value.</summary>
    public static Tensor Times(this Tensor t, double value) => With(value, s => t.mul(s));

    /// <summary>t *= value (in place).</summary>
    public static Tensor TimesInPlace(this Tensor t, double value) => With(value, s => t.mul_(s));

    /// <summary>t / value.</summary>
    public static Tensor Over(this Tensor t, double value) => With(value, s => t.div(s));

    /// <summary>t /= value (in place).</summary>
    public static Tensor OverInPlace(this Tensor t, double value) => With(value, s => t.div_(s));

    /// <summary>max(t, value), in place.</summary>
    public static Tensor AtLeastInPlace(this Tensor t, double value) => With(value, s => t.clamp_min_(s));

    /// <summary>Every element set to value, in place.</summary>
    public static Tensor FillInPlace(this Tensor t, double value) => With(value, s => t.fill_(s));

    /// <summary>t += value * a * b, in place.</summary>
    public static Tensor AddProductInPlace(this Tensor t, Tensor a, Tensor b, double value) => With(value, s => t.addcmul_(a, b, s));

    /// <summary>t += value * a / b, in place.</summary>
    public static Tensor AddQuotientInPlace(this Tensor t, Tensor a, Tensor b, double value) => With(value, s => t.addcdiv_(a, b, s));

    /// <summary>t += weight * (end - t), in place. TorchSharp's lerp_ takes the weight as a tensor, so a 0-dim one is kept for the call.</summary>
    public static Tensor LerpInPlace(this Tensor t, Tensor end, double weight)
    {
        using var w = tensor(weight);
        return t.lerp_(end, w);
    }

    /// <summary>Runs <paramref name="op"/> with <paramref name="value"/> as a Scalar that the using scope keeps alive until it returns.</summary>
    private static Tensor With(double value, Func<Scalar, Tensor> op)
    {
        using var s = value.ToScalar();
        return op(s);
    }
}
