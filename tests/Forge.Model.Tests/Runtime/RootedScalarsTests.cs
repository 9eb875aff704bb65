using Forge.Model.Runtime;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Runtime;

public class RootedScalarsTests
{
    private static Tensor Sample() => tensor(new[] { -1.5f, 0f, 2f, 3.25f });

    [Fact]
    public void EachHelperComputesWhatThePlainTorchSharpOpComputes()
    {
        var a = Sample();
        var b = tensor(new[] { 0.5f, 2f, -1f, 4f });
        var cases = new (string Name, Tensor Rooted, Tensor Plain)[]
        {
            ("Plus", a.Plus(b), a + b),
            ("PlusScalar", a.PlusScalar(0.75), a + 0.75f),
            ("Times", a.Times(-2.0), a * -2f),
            ("Over", a.Over(4.0), a / 4f),
            ("NotEqualTo", a.NotEqualTo(0).to(ScalarType.Float32), a.ne(0).to(ScalarType.Float32)),
            ("PlusInPlace", Sample().PlusInPlace(b), a + b),
            ("PlusScalarInPlace", Sample().PlusScalarInPlace(1.0), a + 1f),
            ("TimesInPlace", Sample().TimesInPlace(3.0), a * 3f),
            ("OverInPlace", Sample().OverInPlace(2.0), a / 2f),
            ("AtLeastInPlace", Sample().AtLeastInPlace(0.5), a.clamp_min(0.5)),
            ("FillInPlace", Sample().FillInPlace(7.0), full(4, 7f)),
            ("LerpInPlace", Sample().LerpInPlace(b, 0.25), a + (b - a) * 0.25f),
            ("AddProductInPlace", Sample().AddProductInPlace(a, b, 0.5), a + a * b * 0.5f),
            ("AddQuotientInPlace", Sample().AddQuotientInPlace(a, b, 0.5), a + a / b * 0.5f),
        };
        foreach (var (name, rooted, plain) in cases)
            Assert.True(rooted.allclose(plain, rtol: 1e-6, atol: 1e-6), $"{name}: [{string.Join(", ", rooted.data<float>().ToArray())}] vs [{string.Join(", ", plain.data<float>().ToArray())}]");
    }

    [Fact]
    public void InPlaceHelpersReturnTheTensorTheyChanged()
    {
        var t = Sample();
        Assert.Same(t, t.TimesInPlace(2.0));
        Assert.Equal(-3f, t[0].item<float>());
    }
}
