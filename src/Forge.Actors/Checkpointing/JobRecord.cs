using System.Text.Json;

namespace Forge.Actors.Checkpointing;

/// <summary>
/// What a supervisor needs in order to take a job over, kept in the job's store beside its
/// checkpoints: the resolved config it runs, and who is in charge now. Every supervisor writes a
/// new record when it starts (<see cref="Incarnation"/> one higher), before any rank gets work.
/// </summary>
/// <param name="Token">
/// A random value of this incarnation. A rank that reads the same token from its own store proves
/// that it writes where the supervisor commits manifests (the store proof of registration).
/// </param>
/// <param name="ResolvedConfig">The job's config as TOML, every default filled in, with the launch's overrides applied.</param>
/// <param name="Host">The node whose supervisor wrote this record ("host:port", or "local").</param>
public sealed record JobRecord(string JobId, long Incarnation, string Token, string Host, string ResolvedConfig, DateTimeOffset WrittenAt)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.General);

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static JobRecord FromJson(byte[] json, string jobId) =>
        JsonSerializer.Deserialize<JobRecord>(json, Json) is { } record && record.JobId == jobId
            ? record
            : throw new InvalidDataException($"the job record of '{jobId}' in the checkpoint store does not parse or names another job");

    /// <summary>A fresh token: 128 random bits, hex.</summary>
    public static string NewToken() => Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
}
