using System.Buffers.Binary;
using System.Text;
using Forge.Model.Safetensors;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Safetensors;

public sealed class SafetensorsDTypeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("forge-stdt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A file built byte by byte from the format spec: one tensor of two elements.</summary>
    private string Write(string code, byte[] data, string name = "t")
    {
        var json = Encoding.UTF8.GetBytes($"{{\"{name}\":{{\"dtype\":\"{code}\",\"shape\":[2],\"data_offsets\":[0,{data.Length}]}}}}");
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, json.Length);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        var path = Path.Combine(_dir, $"{code}.safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData("U8", ScalarType.Byte, new byte[] { 7, 250 }, new[] { 7.0, 250.0 })]
    [InlineData("I8", ScalarType.Int8, new byte[] { 0x7F, 0x80 }, new[] { 127.0, -128.0 })]
    [InlineData("I16", ScalarType.Int16, new byte[] { 0x01, 0x01, 0xFF, 0xFF }, new[] { 257.0, -1.0 })]
    [InlineData("I32", ScalarType.Int32, new byte[] { 0x00, 0x00, 0x01, 0x00, 0xFE, 0xFF, 0xFF, 0xFF }, new[] { 65536.0, -2.0 })]
    [InlineData("I64", ScalarType.Int64, new byte[] { 5, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }, new[] { 5.0, -1.0 })]
    [InlineData("BOOL", ScalarType.Bool, new byte[] { 1, 0 }, new[] { 1.0, 0.0 })]
    [InlineData("F16", ScalarType.Float16, new byte[] { 0x00, 0x3C, 0x00, 0xC0 }, new[] { 1.0, -2.0 })]
    [InlineData("BF16", ScalarType.BFloat16, new byte[] { 0x80, 0x3F, 0x40, 0xC0 }, new[] { 1.0, -3.0 })]
    [InlineData("F32", ScalarType.Float32, new byte[] { 0, 0, 0xC0, 0x3F, 0, 0, 0x10, 0xC1 }, new[] { 1.5, -9.0 })]
    [InlineData("F64", ScalarType.Float64, new byte[] { 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0, 0, 0, 0, 0, 0, 0x04, 0xC0 }, new[] { 1.0, -2.5 })]
    public void EveryCheckpointAndMaskDtypeReadsWithItsValues(string code, ScalarType type, byte[] data, double[] expected)
    {
        using var reader = new SafetensorsReader(Write(code, data));
        using var t = reader.Read("t");
        Assert.Equal(type, t.dtype);
        using var wide = t.to(ScalarType.Float64);
        Assert.Equal(expected, wide.data<double>().ToArray());
    }

    [Theory]
    [InlineData("F8_E4M3")]
    [InlineData("F8_E5M2")]
    public void An8BitFloatTensorIsAnErrorNamingIt(string code)
    {
        var path = Write(code, [1, 2], name: "model.layers.0.mlp.up_proj.weight");
        var e = Assert.Throws<InvalidDataException>(() => new SafetensorsReader(path));
        Assert.Contains("'model.layers.0.mlp.up_proj.weight'", e.Message);
        Assert.Contains(code, e.Message);
    }

    [Theory]
    [InlineData(ScalarType.Byte)]
    [InlineData(ScalarType.Int8)]
    [InlineData(ScalarType.Int16)]
    public void TheNarrowIntegerDtypesRoundTrip(ScalarType type)
    {
        using var t = arange(0, 6, ScalarType.Int64).to(type);
        var path = Path.Combine(_dir, $"rt-{type}.safetensors");
        SafetensorsWriter.Save(path, [("m", t)]);
        using var reader = new SafetensorsReader(path);
        using var back = reader.Read("m");
        Assert.Equal(type, back.dtype);
        Assert.True(back.eq(t).all().item<bool>());
    }
}
