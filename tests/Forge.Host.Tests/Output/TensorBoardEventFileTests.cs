using System.Buffers.Binary;
using System.Text;
using Forge.Host.Output.TensorBoard;
using Forge.Model.Evaluation;
using Google.Protobuf;

namespace Forge.Host.Tests.Output;

/// <summary>
/// Reads the event files back the way TensorBoard does: TFRecord frames with masked CRC-32C, then
/// Event protos decoded by Google's protobuf reader (not by the code under test).
/// </summary>
public sealed class TensorBoardEventFileTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Crc32CMatchesTheCastagnoliCheckValue()
    {
        Assert.Equal(0xE3069283u, MaskedCrc32C.Crc32C(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0u, MaskedCrc32C.Crc32C([]));
    }

    [Fact]
    public void Crc32CAgreesWithABitwiseReferenceOnEveryLength()
    {
        var data = Enumerable.Range(0, 100).Select(i => (byte)(i * 37 + 11)).ToArray();
        for (var n = 0; n <= data.Length; n++)
            Assert.Equal(ReferenceCrc32C(data.AsSpan(0, n)), MaskedCrc32C.Crc32C(data.AsSpan(0, n)));
    }

    [Fact]
    public void TheWrittenFileDecodesToTheHeaderAndTheReportedScalars()
    {
        using var dir = new TempDirectory();
        string path;
        using (var writer = new TensorBoardWriter(dir.Path, new FixedClock(Now)))
        {
            path = writer.FilePath;
            writer.OnStep(Reports.Step(10, 4.5));
            writer.OnEval(10, new HeldOutLosses(4.75, null));
            writer.OnCheckpoint(10, 0.5, 2.0);
        }

        var events = ReadRecords(path).Select(DecodeEvent).ToList();

        Assert.Contains("tfevents", Path.GetFileName(path));
        Assert.Equal(4, events.Count);
        Assert.Equal("brain.Event:2", events[0].FileVersion);
        Assert.All(events, e => Assert.Equal(Now.ToUnixTimeSeconds(), e.WallTime));

        var step = Reports.Step(10, 4.5);
        Assert.Equal(10, events[1].Step);
        Assert.Equal((float)step.Loss, events[1].Scalars["train/loss"]);
        Assert.Equal((float)step.LearningRate, events[1].Scalars["train/lr"]);
        Assert.Equal((float)step.GradNorm, events[1].Scalars["train/grad_norm"]);
        Assert.Equal((float)step.TokensPerSecond, events[1].Scalars["train/tokens_per_s"]);
        Assert.Equal(step.WorldSize, events[1].Scalars["train/world_size"]);
        Assert.Equal(4.75f, events[2].Scalars["eval/loss"]);
        Assert.Equal(0.5f, events[3].Scalars["checkpoint/stall_s"]);
        Assert.Equal(2.0f, events[3].Scalars["checkpoint/write_s"]);
    }

    [Fact]
    public void BothHeldOutTestsLogTheirLossesAndTheEndOfRunCaptionScores()
    {
        using var dir = new TempDirectory();
        string path;
        using (var writer = new TensorBoardWriter(dir.Path, new FixedClock(Now)))
        {
            path = writer.FilePath;
            writer.OnEval(150, new HeldOutLosses(1.25, 0.5));
            writer.OnEval(300, new HeldOutLosses(null, 0.25));
            writer.OnCaptionScores(300, new HeldOutScores(new CaptionScores(64, 0.125, 0.5), new CaptionScores(64, 0.75, 0.875)));
        }

        var events = ReadRecords(path).Select(DecodeEvent).Skip(1).ToList();

        Assert.Equal([150L, 300L, 300L], events.Select(e => e.Step));
        Assert.Equal(new Dictionary<string, float> { ["eval/loss"] = 1.25f, ["eval_art/loss"] = 0.5f }, events[0].Scalars);
        Assert.Equal(new Dictionary<string, float> { ["eval_art/loss"] = 0.25f }, events[1].Scalars);
        Assert.Equal(new Dictionary<string, float>
        {
            ["eval/exact_match"] = 0.125f, ["eval/similarity"] = 0.5f, ["eval_art/exact_match"] = 0.75f, ["eval_art/similarity"] = 0.875f,
        }, events[2].Scalars);
    }

    [Fact]
    public void LargeStepsEncodeAsMultiByteVarints()
    {
        var bytes = TfEventEncoder.ScalarsEvent(1.5, 300_000_000_000L, [("x", 1f)]);

        var decoded = DecodeEvent(bytes);

        Assert.Equal(300_000_000_000L, decoded.Step);
        Assert.Equal(1.5, decoded.WallTime);
    }

    /// <summary>Splits TFRecord frames, checking both masked CRCs of each.</summary>
    private static IEnumerable<byte[]> ReadRecords(string path)
    {
        var file = File.ReadAllBytes(path);
        var offset = 0;
        while (offset < file.Length)
        {
            var header = file.AsSpan(offset, 8);
            var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(header);
            Assert.Equal(Mask(ReferenceCrc32C(header)), BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset + 8)));
            var data = file.AsSpan(offset + 12, length).ToArray();
            Assert.Equal(Mask(ReferenceCrc32C(data)), BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset + 12 + length)));
            offset += 12 + length + 4;
            yield return data;
        }
        Assert.Equal(file.Length, offset);
    }

    private sealed record DecodedEvent(double WallTime, long Step, string? FileVersion, Dictionary<string, float> Scalars);

    /// <summary>Event{wall_time=1, step=2, file_version=3, summary=5{value=1{tag=1, simple_value=2}}}.</summary>
    private static DecodedEvent DecodeEvent(byte[] bytes)
    {
        var input = new CodedInputStream(bytes);
        double wallTime = 0;
        long step = 0;
        string? version = null;
        var scalars = new Dictionary<string, float>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: wallTime = input.ReadDouble(); break;
                case 2: step = input.ReadInt64(); break;
                case 3: version = input.ReadString(); break;
                case 5: DecodeSummary(input.ReadBytes().ToByteArray(), scalars); break;
                default: input.SkipLastField(); break;
            }
        }
        return new DecodedEvent(wallTime, step, version, scalars);
    }

    private static void DecodeSummary(byte[] bytes, Dictionary<string, float> scalars)
    {
        var summary = new CodedInputStream(bytes);
        uint tag;
        while ((tag = summary.ReadTag()) != 0)
        {
            Assert.Equal(1, WireFormat.GetTagFieldNumber(tag));
            var value = new CodedInputStream(summary.ReadBytes().ToByteArray());
            string? name = null;
            float? simple = null;
            uint valueTag;
            while ((valueTag = value.ReadTag()) != 0)
            {
                switch (WireFormat.GetTagFieldNumber(valueTag))
                {
                    case 1: name = value.ReadString(); break;
                    case 2: simple = value.ReadFloat(); break;
                    default: value.SkipLastField(); break;
                }
            }
            scalars[name!] = simple!.Value;
        }
    }

    private static uint ReferenceCrc32C(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        return ~crc;
    }

    private static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
