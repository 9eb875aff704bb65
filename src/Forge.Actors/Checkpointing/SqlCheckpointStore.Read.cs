using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Forge.Model.Optim;

namespace Forge.Actors.Checkpointing;

// The read half of the store: a range of the flat layout from the chunks of a committed checkpoint.
// Chunks are written through the snapshot plugin; they are read from the plugin's table directly,
// streamed, because the snapshot protocol hands back each chunk as one fresh byte[] (16 MiB of page
// faults per chunk, then a second pass to copy it out), and a restore at disk speed cannot afford either.
public sealed partial class SqlCheckpointStore
{
    public async Task<OptimizerShard> LoadRangeAsync(CheckpointManifest manifest, long start, long length, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var n = checked((int)length);
        // Uninitialised: the chunks overwrite every element but the padding, which LoadRangeIntoAsync zeroes.
        // Zeroing a whole 13 GB state first would be one more serial pass over it before the parallel reads start.
        var result = new OptimizerShard(start, length, GC.AllocateUninitializedArray<float>(n), GC.AllocateUninitializedArray<float>(n),
            GC.AllocateUninitializedArray<float>(n), Step: 0);
        var optimizerStep = await LoadRangeIntoAsync(manifest, result, onSliceRead: null, ct);
        return result with { Step = optimizerStep };
    }

    /// <summary>
    /// Reads [target.Start, target.Start + target.Length) of the checkpoint into <paramref name="target"/>'s
    /// arrays (e.g. a rank's page-locked buffers), each chunk streamed from the store straight into its place
    /// and verified against the manifest's checksum on the reader's thread. Readers run in parallel, each with
    /// its own connection to every part it reads. <paramref name="onSliceRead"/>(offset, count), in elements of
    /// the target, is called (on a reader thread) as each slice is complete and verified, so that its copy onto
    /// a device can overlap the remaining reads. Returns the optimizer step the chunks record.
    /// </summary>
    /// <remarks>On failure the target holds partial data: only a call that returned has read and verified every slice.</remarks>
    public async Task<long> LoadRangeIntoAsync(CheckpointManifest manifest, OptimizerShard target, Action<long, long>? onSliceRead, CancellationToken ct = default)
    {
        if (target.Master.Length != target.Length || target.ExpAvg.Length != target.Length || target.ExpAvgSq.Length != target.Length)
            throw new ArgumentException($"the restore target claims {target.Length} elements but holds master {target.Master.Length}, exp_avg {target.ExpAvg.Length}, exp_avg_sq {target.ExpAvgSq.Length}");
        var (pieces, padding) = PlanRead(manifest, new ShardRange(target.Start, target.Length));
        foreach (var hole in padding)
        {
            foreach (var state in new[] { target.Master, target.ExpAvg, target.ExpAvgSq })
                state.AsSpan(checked((int)(hole.Start - target.Start)), checked((int)hole.Length)).Clear();
            onSliceRead?.Invoke(hole.Start - target.Start, hole.Length);
        }
        if (pieces.Count == 0) return await Task.Run(() => OptimizerStepOf(manifest), ct);

        var optimizerSteps = new long[pieces.Count];
        // The plan lists a shard's chunks in order, and consecutive chunks sit in consecutive parts, so
        // readers taking pieces in that order keep every part file busy.
        var queue = new ConcurrentQueue<int>(Enumerable.Range(0, pieces.Count));
        var failed = 0;
        void Reader()
        {
            var connections = new Dictionary<int, DbConnection>();
            var scratch = new byte[ScratchBytes];
            try
            {
                while (Volatile.Read(ref failed) == 0 && queue.TryDequeue(out var i))
                {
                    ct.ThrowIfCancellationRequested();
                    var piece = pieces[i];
                    _readSlots.Wait(ct);
                    try
                    {
                        optimizerSteps[i] = ReadPieceInto(connections, manifest, piece, target, scratch);
                    }
                    finally
                    {
                        _readSlots.Release();
                    }
                    onSliceRead?.Invoke(piece.Destination, piece.Count);
                }
            }
            catch
            {
                // The others stop at their next piece; only this reader's error is reported, not their cancellations.
                Interlocked.Exchange(ref failed, 1);
                throw;
            }
            finally
            {
                foreach (var connection in connections.Values) connection.Dispose();
            }
        }
        // Dedicated threads: the reads block (SQLite has no asynchronous I/O), and a thread pool that grows
        // by a thread or two a second would hold them back at the start of a restore.
        var readers = Enumerable.Range(0, Math.Clamp(Settings.MaxParallelReads, 1, pieces.Count))
            .Select(_ => Task.Factory.StartNew(Reader, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default))
            .ToArray();
        try
        {
            await Task.WhenAll(readers);
        }
        catch
        {
            var errors = readers.Where(r => r.IsFaulted).SelectMany(r => r.Exception!.InnerExceptions).ToList();
            throw errors.FirstOrDefault(e => e is not OperationCanceledException) ?? errors.First();
        }

        var optimizerStep = optimizerSteps[0];
        if (optimizerSteps.Any(s => s != optimizerStep))
            throw new CheckpointCorruptException(manifest.JobId, manifest.Step, null, null, $"chunks disagree on the optimizer step ({string.Join(", ", optimizerSteps.Distinct())})");
        return optimizerStep;
    }

    /// <summary>Bytes of a chunk outside the requested range pass through this per-reader buffer (hashed, then dropped).</summary>
    private const int ScratchBytes = 1 << 20;

    /// <summary>The reader's connection to a part, opened on first use and kept for the reader's further pieces there.</summary>
    private DbConnection Connection(Dictionary<int, DbConnection> connections, int part)
    {
        if (connections.TryGetValue(part, out var open)) return open;
        var connection = OpenConnection(part);
        connection.Open();
        connections[part] = connection;
        return connection;
    }

    /// <summary>
    /// Streams one chunk row into the piece's place in <paramref name="target"/>: the header first (checked
    /// before the body is read), then each state's run, the requested elements straight into the target and
    /// the rest through <paramref name="scratch"/>, the whole chunk hashed on the way. Returns the optimizer step.
    /// </summary>
    private long ReadPieceInto(Dictionary<int, DbConnection> connections, CheckpointManifest manifest, ReadPiece piece, OptimizerShard target, byte[] scratch)
    {
        var (shard, chunk) = (piece.Shard, piece.Chunk);
        var id = CheckpointPersistenceIds.Chunk(manifest.JobId, shard.Rank, chunk.Index);
        CheckpointCorruptException Corrupt(string detail, Exception? inner = null) =>
            new(manifest.JobId, manifest.Step, shard.Rank, chunk.Index, $"{detail} (persistence id '{id}')", inner);

        // Opening a missing SQLite file would create it: a part that is not there holds nothing.
        if (Settings.Kind == CheckpointStoreKind.Sqlite && !File.Exists(Settings.SqlitePartFile(chunk.Part)))
            throw Corrupt($"its part file {Settings.SqlitePartFile(chunk.Part)} does not exist");
        var connection = Connection(connections, chunk.Part);
        using var command = connection.CreateCommand();
        // SQLite: the row's rowid, not its blob. A query that selects the blob reads all of it into memory while
        // stepping, before any stream over it exists; the blob is then opened for incremental I/O by rowid.
        // PostgreSQL: the value itself, streamed off the wire (sequential access) as it arrives.
        var sqlite = Settings.Kind == CheckpointStoreKind.Sqlite;
        command.CommandText = $"SELECT serializer_id, length(snapshot), {(sqlite ? "rowid" : "snapshot")} FROM snapshot WHERE persistence_id = @id AND sequence_number = @step";
        AddParameter(command, "id", id);
        AddParameter(command, "step", manifest.Step);
        using var reader = command.ExecuteReader(CommandBehavior.SequentialAccess | CommandBehavior.SingleRow);
        if (!reader.Read()) throw Corrupt("the chunk snapshot is missing");
        var serializer = reader.IsDBNull(0) ? (int?)null : Convert.ToInt32(reader.GetValue(0));
        if (serializer != _chunkSerializerId)
            throw Corrupt($"the chunk snapshot was stored by serializer {serializer?.ToString() ?? "null"}, not the byte-array serializer ({_chunkSerializerId}): it holds no chunk bytes");
        var bytes = reader.IsDBNull(1) ? -1 : Convert.ToInt64(reader.GetValue(1));
        if (bytes != chunk.Bytes)
            throw Corrupt($"the chunk is {bytes} bytes; the manifest recorded {chunk.Bytes}");
        using var stream = sqlite
            ? new Microsoft.Data.Sqlite.SqliteBlob((Microsoft.Data.Sqlite.SqliteConnection)connection, "snapshot", "snapshot", reader.GetInt64(2), readOnly: true)
            : reader.GetStream(2);

        var hash = new XxHash3();
        Span<byte> headerBytes = stackalloc byte[ShardChunkFormat.HeaderBytes];
        ReadExactly(stream, headerBytes, Corrupt);
        hash.Append(headerBytes);
        ShardChunkFormat.Header header;
        try { header = ShardChunkFormat.ReadHeader(headerBytes, bytes); }
        catch (InvalidDataException e) { throw Corrupt(e.Message, e); }
        var expected = (manifest.Step, shard.Rank, chunk.Index, shard.Start, piece.ChunkFirst, ShardChunkFormat.ElementsIn(chunk));
        if ((header.CheckpointStep, header.Rank, header.ChunkIndex, header.ShardStart, header.FirstElement, header.Count) != expected)
            throw Corrupt($"the chunk header {header} does not describe (step, rank, chunk, shard start, first element, count) = {expected}");

        ShardChunkFormat.EnsureLittleEndian();
        var destination = checked((int)piece.Destination);
        var count = checked((int)piece.Count);
        var before = piece.FromInChunk * sizeof(float);
        var after = (header.Count - piece.FromInChunk - piece.Count) * sizeof(float);
        foreach (var state in new[] { target.Master, target.ExpAvg, target.ExpAvgSq })
        {
            Skip(stream, before, hash, scratch, Corrupt);
            var into = MemoryMarshal.AsBytes(state.AsSpan(destination, count));
            ReadExactly(stream, into, Corrupt);
            hash.Append(into);
            Skip(stream, after, hash, scratch, Corrupt);
        }
        var checksum = ShardChunkFormat.ChecksumText(hash.GetCurrentHashAsUInt64());
        if (checksum != chunk.Checksum)
            throw Corrupt($"checksum {checksum} does not match the manifest's {chunk.Checksum}");
        return header.OptimizerStep;
    }

    private static void ReadExactly(Stream stream, Span<byte> into, Func<string, Exception?, CheckpointCorruptException> corrupt)
    {
        try { stream.ReadExactly(into); }
        catch (EndOfStreamException e) { throw corrupt("the chunk ends before its recorded length", e); }
    }

    private static void Skip(Stream stream, long bytes, XxHash3 hash, byte[] scratch, Func<string, Exception?, CheckpointCorruptException> corrupt)
    {
        while (bytes > 0)
        {
            var block = scratch.AsSpan(0, (int)Math.Min(bytes, scratch.Length));
            ReadExactly(stream, block, corrupt);
            hash.Append(block);
            bytes -= block.Length;
        }
    }

    /// <summary>The optimizer step of a range that is all padding: any chunk's header carries it (read and verified whole).</summary>
    private long OptimizerStepOf(CheckpointManifest manifest)
    {
        var shard = manifest.Shards.FirstOrDefault(s => s.Chunks.Count > 0);
        if (shard is null) return 0;
        var chunk = shard.Chunks.OrderBy(c => c.Index).First();
        var connections = new Dictionary<int, DbConnection>();
        try
        {
            var nothing = new OptimizerShard(0, 0, [], [], [], 0);
            return ReadPieceInto(connections, manifest, new ReadPiece(shard, chunk, 0, 0, 0, 0), nothing, new byte[ScratchBytes]);
        }
        finally
        {
            foreach (var connection in connections.Values) connection.Dispose();
        }
    }

    private readonly record struct ReadPiece(ShardReceipt Shard, ChunkInfo Chunk, long ChunkFirst, long FromInChunk, long Count, long Destination);

    /// <summary>Which chunk slices fill <paramref name="target"/>, and the ranges no shard covers, which must be layout padding.</summary>
    private static (List<ReadPiece> Pieces, List<ShardRange> Padding) PlanRead(CheckpointManifest manifest, ShardRange target)
    {
        var pieces = new List<ReadPiece>();
        var covered = new List<ShardRange>();
        foreach (var shard in manifest.Shards)
        {
            foreach (var (chunk, first) in ChunkStarts(shard))
            {
                var chunkRange = new ShardRange(shard.Start + first, ShardChunkFormat.ElementsIn(chunk));
                var from = Math.Max(chunkRange.Start, target.Start);
                var to = Math.Min(chunkRange.End, target.End);
                if (from >= to) continue;
                pieces.Add(new ReadPiece(shard, chunk, first, from - chunkRange.Start, to - from, from - target.Start));
                covered.Add(new ShardRange(from, to - from));
            }
        }

        // Saved shards span the layout padded for the saving world; a larger target world may pad
        // further. Padding is never a parameter, so it reads as zeros; a hole below Numel is an error.
        var padding = new List<ShardRange>();
        void Hole(long from, long to)
        {
            ThrowIfHoleHoldsParameters(manifest, from, to);
            padding.Add(new ShardRange(from, to - from));
        }
        var cursor = target.Start;
        foreach (var range in covered.OrderBy(r => r.Start))
        {
            if (range.Start > cursor) Hole(cursor, range.Start);
            cursor = Math.Max(cursor, range.End);
        }
        if (cursor < target.End) Hole(cursor, target.End);
        return (pieces, padding);
    }

    private static void ThrowIfHoleHoldsParameters(CheckpointManifest manifest, long from, long to)
    {
        if (from < manifest.Layout.Numel)
            throw new CheckpointCorruptException(manifest.JobId, manifest.Step, null, null,
                $"no saved shard covers flat elements [{from}, {Math.Min(to, manifest.Layout.Numel)}) of the {manifest.Layout.Numel}-element layout");
    }

    private static IEnumerable<(ChunkInfo Chunk, long First)> ChunkStarts(ShardReceipt shard)
    {
        var first = 0L;
        foreach (var chunk in shard.Chunks.OrderBy(c => c.Index))
        {
            yield return (chunk, first);
            first += ShardChunkFormat.ElementsIn(chunk);
        }
    }
}
