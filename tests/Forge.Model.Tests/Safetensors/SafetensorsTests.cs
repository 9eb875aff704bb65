using System.Buffers.Binary;
using System.Text;
using Forge.Model.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Safetensors;

public sealed class SafetensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("forge-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => System.IO.Path.Combine(_dir, name);

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void RoundTripIsBitExactInEachFloatDtype(ScalarType dtype)
    {
        using var a = randn(3, 5, generator: new Generator(1)).to(dtype);
        using var b = randn(7, generator: new Generator(2)).to(dtype);
        using var c = randn(2, 3, 4, generator: new Generator(3)).to(dtype);
        var path = PathOf($"rt-{dtype}.safetensors");
        SafetensorsWriter.Save(path, [("a.weight", a), ("b", b), ("layers.0.c", c)], metadata: new Dictionary<string, string> { ["format"] = "pt" });

        using var reader = new SafetensorsReader(path);
        Assert.Equal("pt", reader.Metadata["format"]);
        foreach (var (name, expected) in new[] { ("a.weight", a), ("b", b), ("layers.0.c", c) })
        {
            using var got = reader.Read(name);
            Assert.Equal(dtype, got.dtype);
            Assert.Equal(expected.shape, got.shape);
            // Compare raw bytes: exact, and NaN-safe.
            Assert.Equal(expected.bytes.ToArray(), got.bytes.ToArray());
        }
    }

    [Fact]
    public void ReadsAFileWrittenByteByByteFromTheFormatSpec()
    {
        // Independent of our writer: header {"x": F32 [2], offsets [0, 8]} + two little-endian floats.
        var json = Encoding.UTF8.GetBytes("{\"__metadata__\":{\"k\":\"v\"},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}");
        var bytes = new byte[8 + json.Length + 8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, json.Length);
        json.CopyTo(bytes, 8);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(8 + json.Length), 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(12 + json.Length), -2.25f);
        var path = PathOf("spec.safetensors");
        File.WriteAllBytes(path, bytes);

        using var reader = new SafetensorsReader(path);
        using var x = reader.Read("x");
        Assert.Equal([1.5f, -2.25f], x.data<float>().ToArray());
        Assert.Equal("v", reader.Metadata["k"]);
    }

    [Fact]
    public void ExportCastsFloatsToTheRequestedDtypeAndKeepsIntegers()
    {
        using var w = tensor(new[] { 1.0f, 0.5f, -3.0f });
        using var ids = tensor(new long[] { 4, 5 });
        var path = PathOf("cast.safetensors");
        SafetensorsWriter.Save(path, [("w", w), ("ids", ids)], floatDType: ScalarType.BFloat16);

        using var reader = new SafetensorsReader(path);
        Assert.Equal(ScalarType.BFloat16, reader.Entry("w").DType);
        Assert.Equal(ScalarType.Int64, reader.Entry("ids").DType);
        using var back = reader.Read("w").to(ScalarType.Float32);
        Assert.Equal([1.0f, 0.5f, -3.0f], back.data<float>().ToArray()); // exactly representable in bf16
    }

    [Fact]
    public void ATruncatedFileIsRejectedNamingTheTensor()
    {
        using var a = ones(16);
        var path = PathOf("trunc.safetensors");
        SafetensorsWriter.Save(path, [("big", a)]);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^8]);
        var e = Assert.Throws<InvalidDataException>(() => new SafetensorsReader(path));
        Assert.Contains("'big'", e.Message);
        Assert.Contains(path, e.Message);
    }

    private sealed class TwoLinears : nn.Module
    {
        public readonly nn.Module<Tensor, Tensor> first;
        public readonly nn.Module<Tensor, Tensor> second;

        public TwoLinears(int hidden) : base(nameof(TwoLinears))
        {
            first = nn.Linear(4, hidden);
            second = nn.Linear(hidden, 2, hasBias: false);
            RegisterComponents();
        }
    }

    [Fact]
    public void LoadingIntoAModuleRestoresEveryParameterExactly()
    {
        using var source = new TwoLinears(8);
        using var target = new TwoLinears(8);
        var path = PathOf("module.safetensors");
        var want = source.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Contains(target.named_parameters(), p => !p.parameter.equal(want[p.name]).all().item<bool>());
        StateDict.Save(source, path);
        StateDict.Load(target, path);
        foreach (var (name, p) in target.named_parameters())
            Assert.True(p.equal(want[name]).all().item<bool>(), name);
    }

    [Fact]
    public void AMismatchedFileIsRejectedNamingMissingUnexpectedAndMisshapedTensors()
    {
        using var model = new TwoLinears(8);
        using var wrongShape = zeros(3, 4);
        using var extra = zeros(1);
        using var bias = zeros(8);
        var path = PathOf("bad.safetensors");
        // first.weight has the wrong shape, second.weight is missing, "stray" is unexpected.
        SafetensorsWriter.Save(path, [("first.weight", wrongShape), ("first.bias", bias), ("stray", extra)]);

        var e = Assert.Throws<StateDictMismatchException>(() => StateDict.Load(model, path));
        Assert.Equal(["second.weight"], e.Missing);
        Assert.Equal(["stray"], e.Unexpected);
        Assert.Single(e.MisShaped);
        Assert.Contains("first.weight: file [3, 4] vs model [8, 4]", e.Message);
        Assert.Contains("second.weight", e.Message);
        Assert.Contains("stray", e.Message);
    }
}
