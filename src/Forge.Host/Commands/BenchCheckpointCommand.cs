using System.CommandLine;
using Forge.Actors.Checkpointing;
using Forge.Host.Benchmarks;
using Forge.Model.Config;

namespace Forge.Host.Commands;

/// <summary>`forge bench checkpoint`: write/read throughput of a checkpoint store and the training stall per checkpoint.</summary>
public static class BenchCheckpointCommand
{
    public static Command Create()
    {
        var store = new Option<string>("--store") { Description = "sqlite or postgresql", DefaultValueFactory = _ => "sqlite" };
        var mib = new Option<int>("--mib") { Description = "optimizer state per checkpoint in MiB (master + 2 moments)", DefaultValueFactory = _ => 256 };
        var connection = new Option<string?>("--connection") { Description = "PostgreSQL connection string (default: $FORGE_PG_CONNECTION, then .forge-pg/connection)" };
        var path = new Option<string?>("--path") { Description = "SQLite file (default: a temporary file, deleted afterwards)" };
        var chunkMiB = new Option<int>("--chunk-mib") { Description = "chunk size in MiB (default: checkpoint.chunk_mib's default)", DefaultValueFactory = _ => new CheckpointConfig().ChunkMiB };
        var writers = new Option<int>("--writers") { Description = "chunk writes in flight at once; for SQLite, files (default: checkpoint.writers' default)", DefaultValueFactory = _ => new CheckpointConfig().Writers };
        var readers = new Option<int>("--readers") { Description = "chunk reads in flight at once during the restore", DefaultValueFactory = _ => CheckpointStoreSettings.DefaultParallelReads };
        var ranks = new Option<int>("--ranks") { Description = "shards written concurrently", DefaultValueFactory = _ => 1 };
        var checkpoints = new Option<int>("--checkpoints") { Description = "background checkpoints during the simulated training", DefaultValueFactory = _ => 3 };
        var stepMs = new Option<int>("--step-ms") { Description = "simulated step time in ms", DefaultValueFactory = _ => 100 };
        var interval = new Option<int>("--interval") { Description = "steps between checkpoints", DefaultValueFactory = _ => 5 };
        var dropCaches = new Option<bool>("--drop-caches") { Description = "drop the page cache before the read, so it comes from the disk (needs root)" };

        var command = new Command("checkpoint", "Measure checkpoint write/read throughput and the training stall per checkpoint.");
        foreach (var option in new Option[] { store, mib, connection, path, chunkMiB, writers, readers, ranks, checkpoints, stepMs, interval, dropCaches })
            command.Options.Add(option);
        command.SetAction(async (parse, ct) =>
        {
            var options = new CheckpointBenchmarkOptions
            {
                StateMiB = parse.GetValue(mib),
                Ranks = parse.GetValue(ranks),
                Checkpoints = parse.GetValue(checkpoints),
                StepTime = TimeSpan.FromMilliseconds(parse.GetValue(stepMs)),
                StepsPerCheckpoint = parse.GetValue(interval),
                DropPageCache = parse.GetValue(dropCaches),
            };
            return await RunAsync(parse.GetValue(store)!, parse.GetValue(connection), parse.GetValue(path), parse.GetValue(chunkMiB), parse.GetValue(writers), parse.GetValue(readers), options, Console.Out, ct);
        });
        return command;
    }

    public static async Task<int> RunAsync(string storeKind, string? connection, string? path, int chunkMiB, int writers, int readers, CheckpointBenchmarkOptions options, TextWriter output, CancellationToken ct)
    {
        if (options.StateMiB < 1 || options.Ranks < 1 || options.Checkpoints < 1 || writers is < 1 or > CheckpointStoreSettings.MaxWriters || readers < 1)
        {
            output.WriteLine($"--mib, --ranks, --checkpoints and --readers must be at least 1, --writers 1 to {CheckpointStoreSettings.MaxWriters}");
            return 2;
        }
        var temporary = storeKind == "sqlite" && path is null ? Path.Combine(Path.GetTempPath(), $"forge-bench-{Guid.NewGuid():N}.db") : null;
        CheckpointStoreSettings settings;
        try
        {
            settings = storeKind switch
            {
                "sqlite" => CheckpointStoreSettings.Sqlite(path ?? temporary!),
                "postgresql" => CheckpointStoreSettings.PostgreSql(connection ?? DefaultPostgresConnection()
                    ?? throw new ArgumentException("--store postgresql needs --connection, $FORGE_PG_CONNECTION or .forge-pg/connection (scripts/postgres.sh writes it)")),
                _ => throw new ArgumentException($"--store \"{storeKind}\": expected sqlite or postgresql"),
            };
            settings = settings with
            {
                ChunkBytes = chunkMiB * CheckpointStoreSettings.MiB,
                KeepLastN = 1,
                Writers = writers,
                MaxParallelReads = readers,
            };
        }
        catch (ArgumentException e)
        {
            output.WriteLine(e.Message);
            return 2;
        }

        try
        {
            await using var store = await SqlCheckpointStore.OpenAsync(settings, ct);
            await CheckpointBenchmark.RunAsync(store, options, output, ct);
            return 0;
        }
        finally
        {
            if (temporary is not null)
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                for (var part = 0; part < settings.Parts; part++) File.Delete(settings.SqlitePartFile(part));
            }
        }
    }

    private static string? DefaultPostgresConnection()
    {
        if (Environment.GetEnvironmentVariable("FORGE_PG_CONNECTION") is { Length: > 0 } fromEnvironment) return fromEnvironment;
        var file = Path.Combine(".forge-pg", "connection");
        return File.Exists(file) ? File.ReadAllText(file).Trim() : null;
    }
}
