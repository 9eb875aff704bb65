using Forge.Model.Optim;
using System.Security.Cryptography;
using System.Text.Json;
using Forge.Model.Training;

namespace Forge.Actors.Checkpointing;

/// <summary>Decides whether a committed checkpoint can seed the model that is about to resume.</summary>
public static class CheckpointCompatibility
{
    /// <summary>
    /// SHA-256 over the JSON of the config records that shape the parameters (model, vision
    /// encoder, adapter, ...), in the order given. Equal configs give equal hashes on any machine.
    /// </summary>
    public static string HashOf(params object[] shapeDefiningConfigs)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var config in shapeDefiningConfigs)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(config.GetType().FullName ?? config.GetType().Name));
            hash.AppendData(JsonSerializer.SerializeToUtf8Bytes(config, config.GetType()));
        }
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Throws <see cref="CheckpointIncompatibleException"/> naming both hashes when the checkpoint
    /// was written for another model config, and naming the first differing parameter when a
    /// layout is given and differs. Never falls back: an older checkpoint of the same job would
    /// have the same mismatch.
    /// </summary>
    public static void Verify(CheckpointManifest manifest, string expectedConfigHash, FlatLayoutInfo? expectedLayout = null)
    {
        var where = $"checkpoint of job '{manifest.JobId}' at step {manifest.Step}";
        if (!string.Equals(manifest.ModelConfigHash, expectedConfigHash, StringComparison.Ordinal))
            throw new CheckpointIncompatibleException(
                $"{where} was saved for model config {manifest.ModelConfigHash}, but this run's model config hashes to {expectedConfigHash}: " +
                "the [model]/[vision_encoder]/[adapter]/[vlm] sections differ from the run that saved it. Resume with the original config, " +
                "or start a new job (checkpoint.load_path can seed it from an exported safetensors file).");
        if (expectedLayout is null) return;
        var saved = manifest.Layout.Parameters;
        var wanted = expectedLayout.Parameters;
        for (var i = 0; i < Math.Max(saved.Count, wanted.Count); i++)
        {
            var s = i < saved.Count ? saved[i] : null;
            var w = i < wanted.Count ? wanted[i] : null;
            if (s is null || w is null || s.Name != w.Name || s.Offset != w.Offset || !s.Shape.SequenceEqual(w.Shape))
                throw new CheckpointIncompatibleException(
                    $"{where} has a different flat layout at parameter #{i}: saved {Describe(s)}, expected {Describe(w)}");
        }
    }

    private static string Describe(FlatParameter? p) =>
        p is null ? "nothing" : $"'{p.Name}' [{string.Join(", ", p.Shape)}] at offset {p.Offset}";
}
