using Forge.Actors.Checkpointing;
using Forge.Actors.Checkpointing.Export;
using Forge.Model.Safetensors;
using Forge.Model.Training;
using TorchSharp;
using static TorchSharp.torch;
using Forge.Model.Optim;

namespace Forge.Actors.Tests.Checkpointing.Export;

public sealed class SafetensorsCheckpointExportTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("forge-export-").FullName;

    [Fact]
    public async Task AnFp32ExportHoldsTheMasterWeightsOfEveryParameterUnderItsModelName()
    {
        await using var db = await TestStores.OpenAsync(CheckpointStoreKind.Sqlite, ShardChunkFormat.ChunkBytesFor(4));
        var state = new TrainingState(seed: 80);
        var manifest = await state.SaveAndCommitAsync(db.Store, TestStores.NewJobId("export"), step: 9, worldSize: 3);
        var path = Path.Combine(_directory, "model.safetensors");

        var fractions = new List<double>();
        await SafetensorsCheckpointExport.ExportAsync(db.Store, manifest, path, ExportDType.Parse("float32"), progress: new Recorder(fractions));

        using var reader = new SafetensorsReader(path);
        Assert.Equal(state.Layout.Parameters.Select(p => p.Name).Order(), reader.Entries.Select(e => e.Name).Order());
        Assert.Equal("9", reader.Metadata["forge.step"]);
        Assert.NotEmpty(fractions);
        Assert.Equal(fractions.Order(), fractions);          // progress only moves forward
        Assert.Equal(1.0, fractions[^1], precision: 12);      // and ends with everything read
        Assert.Equal(manifest.JobId, reader.Metadata["forge.job"]);
        foreach (var p in state.Layout.Parameters)
        {
            Assert.Equal(p.Shape, reader.Entry(p.Name).Shape);
            Assert.Equal(ScalarType.Float32, reader.Entry(p.Name).DType);
            using var t = reader.Read(p.Name);
            TrainingState.AssertBits(state.Master[(int)p.Offset..(int)(p.Offset + p.Numel)], t.data<float>().ToArray(), p.Name);
        }
    }

    [Fact]
    public async Task ABf16ExportIsTheMasterWeightsRoundedToBf16()
    {
        await using var db = await TestStores.OpenAsync(CheckpointStoreKind.Sqlite);
        var state = new TrainingState(seed: 81);
        var manifest = await state.SaveAndCommitAsync(db.Store, TestStores.NewJobId("export-bf16"), step: 3, worldSize: 2);
        var path = Path.Combine(_directory, "model-bf16.safetensors");

        await SafetensorsCheckpointExport.ExportAsync(db.Store, manifest, path, ExportDType.Parse("bfloat16"));

        using var reader = new SafetensorsReader(path);
        using var scope = NewDisposeScope();
        foreach (var p in state.Layout.Parameters)
        {
            Assert.Equal(ScalarType.BFloat16, reader.Entry(p.Name).DType);
            // Widening bf16 to fp32 is exact, so comparing fp32 bits compares the bf16 bits.
            var expected = tensor(state.Master[(int)p.Offset..(int)(p.Offset + p.Numel)], p.Shape).to(ScalarType.BFloat16).to(ScalarType.Float32);
            var exported = reader.Read(p.Name).to(ScalarType.Float32);
            TrainingState.AssertBits(expected.data<float>().ToArray(), exported.data<float>().ToArray(), p.Name);
        }
    }

    [Fact]
    public async Task AnExportImportsIntoAnyWorldSizeAsTheSameWeightsWithAFreshOptimizer()
    {
        await using var db = await TestStores.OpenAsync(CheckpointStoreKind.Sqlite, ShardChunkFormat.ChunkBytesFor(4));
        var state = new TrainingState(seed: 82);
        var manifest = await state.SaveAndCommitAsync(db.Store, TestStores.NewJobId("import"), step: 4, worldSize: 3);
        var path = Path.Combine(_directory, "seed.safetensors");
        await SafetensorsCheckpointExport.ExportAsync(db.Store, manifest, path, ExportDType.Parse("float32"));

        for (var world = 1; world <= 4; world++)
        {
            var padded = ShardRange.PaddedNumel(state.Layout.Numel, world);
            for (var rank = 0; rank < world; rank++)
            {
                var range = ShardRange.For(padded, rank, world);
                var shard = SafetensorsShardImport.LoadShard(path, state.Layout, range);
                var expected = state.ShardFor(world, rank);
                TrainingState.AssertBits(expected.Master, shard.Master, $"master of rank {rank}/{world}");
                Assert.All(shard.ExpAvg.Concat(shard.ExpAvgSq), v => Assert.Equal(0f, v));
                Assert.Equal(0, shard.Step);
            }
        }
    }

    [Fact]
    public void ImportingAFileForAnotherModelNamesEveryMismatch()
    {
        var path = Path.Combine(_directory, "other.safetensors");
        using (var scope = NewDisposeScope())
            SafetensorsWriter.Save(path, [("tok_embeddings.weight", zeros(7, 6)), ("norm.weight", zeros(5)), ("lm_head.weight", zeros(2))]);

        var error = Assert.Throws<InvalidDataException>(() =>
            SafetensorsShardImport.LoadShard(path, TrainingState.TinyLayout, new ShardRange(0, 65)));

        Assert.Contains(path, error.Message);
        Assert.Contains("'tok_embeddings.weight' is [7, 6] in the file, [7, 5] in the model", error.Message);
        Assert.Contains("missing 'layers.0.attention.wq.weight' [5, 5]", error.Message);
        Assert.Contains("unexpected 'lm_head.weight'", error.Message);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private sealed class Recorder(List<double> into) : IProgress<double>
    {
        public void Report(double value) => into.Add(value);
    }
}
