using Forge.Model.Optim;
using Forge.Actors.Checkpointing;
using Forge.Model.Config;
using Forge.Model.Training;

namespace Forge.Actors.Tests.Checkpointing;

public sealed class CheckpointCompatibilityTests
{
    private static CheckpointManifest Manifest(string hash) =>
        new TrainingState(seed: 90).ManifestFor("job", 7, 1, [new ShardReceipt(0, 0, 65, [])], hash);

    [Fact]
    public void EqualConfigsHashEquallyAndAShapeChangeChangesTheHash()
    {
        var model = new ModelConfig { Dim = 64, NLayers = 2 };

        Assert.Equal(CheckpointCompatibility.HashOf(model, new VisionEncoderConfig()), CheckpointCompatibility.HashOf(model with { }, new VisionEncoderConfig()));
        Assert.NotEqual(CheckpointCompatibility.HashOf(model), CheckpointCompatibility.HashOf(model with { Dim = 128 }));
        Assert.StartsWith("sha256:", CheckpointCompatibility.HashOf(model));
    }

    [Fact]
    public void AMatchingHashAndLayoutPassWhileAnyOtherModelConfigIsRefused()
    {
        var hash = CheckpointCompatibility.HashOf(new ModelConfig());
        var otherHash = CheckpointCompatibility.HashOf(new ModelConfig() with { Dim = 512 });

        var accepted = Record.Exception(() => CheckpointCompatibility.Verify(Manifest(hash), hash, TrainingState.TinyLayout));
        var refused = Record.Exception(() => CheckpointCompatibility.Verify(Manifest(hash), otherHash, TrainingState.TinyLayout));

        Assert.Null(accepted);
        Assert.IsType<CheckpointIncompatibleException>(refused);
        Assert.NotEqual(hash, otherHash);
    }

    [Fact]
    public void ALayoutMismatchNamesTheFirstDifferingParameter()
    {
        var renamed = TrainingState.TinyLayout with
        {
            Parameters = [.. TrainingState.TinyLayout.Parameters.Take(2), new FlatParameter("final_norm.weight", [5], 60, 5)],
        };

        var error = Assert.Throws<CheckpointIncompatibleException>(() => CheckpointCompatibility.Verify(Manifest("h"), "h", renamed));

        Assert.Contains("parameter #2", error.Message);
        Assert.Contains("'norm.weight' [5] at offset 60", error.Message);
        Assert.Contains("'final_norm.weight'", error.Message);
    }
}
