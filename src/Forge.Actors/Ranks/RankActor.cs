using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Forge.Actors.Checkpointing;
using Forge.Actors.Protocol;
using Forge.Actors.Replication;
using Forge.Model.Distributed;

namespace Forge.Actors.Ranks;

/// <summary>
/// One training rank (one GPU, or one CPU rank). It registers with the job supervisor, joins the
/// worlds the supervisor forms, and runs steps and shard snapshots on its <see cref="IRankThread"/> (in production a dedicated <see cref="RankThread"/>).
/// The actor itself never blocks: results of torch work are piped to the supervisor, so it can
/// always receive an <see cref="AbortStep"/>.
///
/// States: Registering (repeats <see cref="RegisterRank"/> until the supervisor answers, and proves that
/// it writes the job's store when asked: <see cref="ProveStore"/>) and
/// Serving (member, or candidate member, of the supervisor's worlds).
/// </summary>
public sealed class RankActor : ReceiveActor, IWithTimers
{
    private const string RegisterTimer = "register";

    private readonly RankServices _services;
    private readonly Func<IReadOnlyList<string>> _supervisorPaths;
    private readonly IRankThread _thread;
    private readonly IActorRef? _relay;   // the process's step relay (its RankHost), or null: steps come here directly
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private IActorRef _supervisor = ActorRefs.Nobody;
    private long _epoch = -1;          // the newest world this rank was asked to join
    private RankWorld? _world;         // set once that world's join succeeded
    private volatile bool _stopped;    // read on the torch thread by joins still queued at stop

    public RankActor(RankServices services, Func<IReadOnlyList<string>> supervisorPaths, IActorRef? relay)
    {
        _services = services;
        _supervisorPaths = supervisorPaths;
        _relay = relay;
        _thread = services.StartThread($"forge-{Self.Path.Name}", () => services.Engines.PrepareThread(services.Device));
        BecomeRegistering();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="supervisorPath">Where the supervisor lives: "/user/job-supervisor" locally, or the seed node's full path.</param>
    public static Props Props(RankServices services, string supervisorPath) => Props(services, () => [supervisorPath]);

    /// <param name="supervisorPaths">Where the supervisor may live now, asked at every registration attempt (a cluster
    /// singleton moves when its process dies); only the live supervisor answers.</param>
    /// <param name="relay">The process's step relay (<see cref="RankHost"/>), which takes this rank's steps and results;
    /// null when the supervisor sends them to the rank itself.</param>
    public static Props Props(RankServices services, Func<IReadOnlyList<string>> supervisorPaths, IActorRef? relay = null) =>
        Akka.Actor.Props.Create(() => new RankActor(services, supervisorPaths, relay));

    private void BecomeRegistering()
    {
        // The supervisor may not exist yet (a node started before the job): keep asking.
        Timers.StartPeriodicTimer(RegisterTimer, RegisterNow.Instance, TimeSpan.Zero, _services.RegisterRetry);
        Become(Registering);
    }

    private void Registering()
    {
        Receive<RegisterNow>(_ =>
        {
            foreach (var path in _supervisorPaths()) Context.ActorSelection(path).Tell(Registration);
        });
        Receive<ProveStore>(prove =>
        {
            // Read back the token the supervisor wrote into the job record: only the job's own store holds it.
            var store = _services.Store;
            store.ReadJobRecordAsync(prove.JobId).PipeTo(Sender, Self,
                record => new StoreProof(Registration, record?.Token, store.Location),
                e => new StoreProof(Registration, null, store.Location, $"could not be read ({Describe(e)})"));
        });
        Receive<RankRegistered>(registered =>
        {
            Timers.Cancel(RegisterTimer);
            // The process's replica channel takes, and its pushes and fetches prove, this supervisor's secret.
            if (registered.ReplicaSecret is { } secret) _services.Replicas?.Trust(secret);
            _log.Info("rank on {0} device {1} registered with the supervisor at {2}", _services.Node, _services.Device, Sender.Path);
            _supervisor = Sender;
            Context.Watch(_supervisor);
            Become(Serving);
        });
        Receive<WorldReady>(ready => _thread.Run(ready.World.Dispose));   // joined after the supervisor died
        Receive<JoinCrashed>(_ => { });
        Receive<LeaveJob>(leave =>
        {
            Context.Parent.Tell(new RankLeaving(leave));
            Context.Stop(Self);
        });
    }

    private RegisterRank Registration => new(_services.Node, _services.Device, _services.JobId, _services.ModelConfigHash,
        _services.Replicas is { } replicas ? new ReplicaInventory(replicas.Endpoint, replicas.Store.Held(_services.JobId)) : null);

    private void Serving()
    {
        Receive<RankRegistered>(_ => { });   // a registration retry that crossed the first answer
        Receive<CreateGroup>(create =>
        {
            var backend = _services.Backend;
            _thread.Run(backend.CreateGroupId).PipeTo(_supervisor, Self,
                id => new GroupCreated(create.WorldEpoch, id),
                e => new JoinFailed(create.WorldEpoch, 0, $"creating the {backend.Name} group failed: {Describe(e)}"));
        });
        Receive<JoinWorld>(Join);
        Receive<WorldReady>(ready =>
        {
            if (ready.World.Epoch != _epoch)
            {
                // Superseded by a newer JoinWorld while joining: this world is already abandoned.
                var stale = ready.World;
                _thread.Run(stale.Dispose);
                return;
            }
            _world = ready.World;
            // The relay first: the supervisor relays the world's first step only once every rank said it joined.
            _relay?.Tell(new RelayMember(_world.Epoch, _world.Assignment.Rank));
            _supervisor.Tell(new WorldJoined(_world.Epoch, _world.Assignment.Rank, _world.Engine.Layout, _services.Replicas?.Endpoint ?? "", _relay));
        });
        Receive<JoinCrashed>(crashed =>
        {
            if (crashed.Assignment.WorldEpoch == _epoch)
                _supervisor.Tell(new JoinFailed(crashed.Assignment.WorldEpoch, crashed.Assignment.Rank, Describe(crashed.Error),
                    Unwrap(crashed.Error) is CheckpointCorruptException corrupt ? corrupt.Step : null,
                    MemoryCopyLost: Unwrap(crashed.Error) is ReplicaUnavailableException));
        });
        Receive<RunStep>(run =>
        {
            if (!IsMemberOf(run.WorldEpoch, out var world))
            {
                _supervisor.Tell(new StepFailed(run.WorldEpoch, -1, run.Step, $"not a member of world {run.WorldEpoch}", false));
                return;
            }
            var rank = world.Assignment.Rank;
            // Through the relay, which answers for the whole process once its last rank is done.
            _thread.Run(() => world.RunStep(run.Step)).PipeTo(_relay ?? _supervisor, Self,
                result => new StepDone(run.WorldEpoch, rank, result),
                e => new StepFailed(run.WorldEpoch, rank, run.Step, Describe(e), Unwrap(e) is CollectiveException));
        });
        Receive<SaveShard>(save =>
        {
            if (!IsMemberOf(save.WorldEpoch, out var world))
            {
                _supervisor.Tell(new ShardSaveFailed(save.WorldEpoch, save.Step, -1, $"not a member of world {save.WorldEpoch}"));
                return;
            }
            SaveInBackground(world, save).PipeTo(_supervisor, Self,
                saved => saved,
                e => new ShardSaveFailed(save.WorldEpoch, save.Step, world.Assignment.Rank, Describe(e)));
        });
        Receive<ReplicateShard>(replicate =>
        {
            if (!IsMemberOf(replicate.WorldEpoch, out var world) || _services.Replicas is not { } replicas)
            {
                _supervisor.Tell(new ShardReplicationFailed(replicate.WorldEpoch, replicate.Step, _world?.Assignment.Rank ?? -1,
                    _services.Replicas is null ? "this process keeps no replicas" : $"not a member of world {replicate.WorldEpoch}"));
                return;
            }
            // Before the capture: the copies the supervisor no longer needs free their buffers for it.
            replicas.Store.Retain(world.Assignment.JobId, [.. replicate.Retain, new ReplicaStep(replicate.WorldEpoch, replicate.Step)]);
            ReplicateInBackground(world, replicas, replicate).PipeTo(_supervisor, Self,
                replicated => replicated,
                e => new ShardReplicationFailed(replicate.WorldEpoch, replicate.Step, world.Assignment.Rank, Describe(e)));
        });
        Receive<AbortStep>(abort =>
        {
            _world?.Abort(abort.Reason);
            var rank = _world?.Assignment.Rank ?? -1;
            // The acknowledgement waits for everything queued before it, so it proves the torch
            // thread is free again; a rank stuck in native code never answers and gets dropped.
            _thread.Run(() => true).PipeTo(_supervisor, Self, _ => new StepAborted(abort.WorldEpoch, rank));
        });
        Receive<LeaveJob>(leave =>
        {
            _log.Info("rank on {0} device {1} leaves the job: {2}", _services.Node, _services.Device, leave.Reason);
            Context.Parent.Tell(new RankLeaving(leave));
            Context.Stop(Self);
        });
        Receive<Terminated>(t => t.ActorRef.Equals(_supervisor), _ =>
        {
            // The supervisor is gone (its node died or the job ended abruptly): give up the world
            // and offer this rank again, to a supervisor that may come back at the same path.
            _log.Info("rank on {0} device {1}: the supervisor at {2} is gone; registering again", _services.Node, _services.Device, _supervisor.Path);
            ReleaseWorld("supervisor terminated");
            _epoch = -1;
            _supervisor = ActorRefs.Nobody;
            BecomeRegistering();
        });
    }

    private void Join(JoinWorld join)
    {
        var assignment = join.Assignment;
        ReleaseWorld($"superseded by world {assignment.WorldEpoch}");
        _epoch = assignment.WorldEpoch;
        JoinAsync(assignment, join.RestoreFrom, join.FromMemory).PipeTo(Self,
            success: world => new WorldReady(world),
            failure: e => new JoinCrashed(assignment, e));
    }

    private async Task<RankWorld> JoinAsync(RankAssignment assignment, CheckpointManifest? restoreFrom, MemoryRestore? fromMemory)
    {
        // Loading is I/O and stays off the torch thread; only the join and engine build go there.
        var restored = fromMemory is not null
            ? await MemoryShardRestore.LoadAsync(assignment.JobId, fromMemory, assignment.Rank, assignment.WorldSize, _services.Replicas,
                _services.Replicas?.Secret ?? throw new ReplicaUnavailableException("this process has no replica secret from the supervisor to fetch copies with"),
                CancellationToken.None).ConfigureAwait(false)
            : restoreFrom is null
            ? null
            : await ShardRestore.LoadAsync(_services.Store, restoreFrom, assignment.Rank, assignment.WorldSize, CancellationToken.None).ConfigureAwait(false);
        var services = _services;
        return await _thread.Run(() =>
        {
            var world = RankWorld.Join(services, assignment, restored);
            if (!_stopped) return world;
            world.Dispose();   // the actor stopped while this join was queued: nobody else would release it
            throw new OperationCanceledException($"rank stopped while joining world {assignment.WorldEpoch}");
        }).ConfigureAwait(false);
    }

    private async Task<ShardSaved> SaveInBackground(RankWorld world, SaveShard save)
    {
        // The only work on the step path is the copy off the device (queued between two steps);
        // the write to the store overlaps the following steps.
        var clock = Stopwatch.StartNew();
        using var snapshot = await _thread.Run(world.Engine.CaptureShard).ConfigureAwait(false);
        var snapshotSeconds = clock.Elapsed.TotalSeconds;
        // The snapshot's host buffers return to the engine when this save ends, durable or failed.
        var receipt = await _services.Store.SaveShardAsync(world.Assignment.JobId, save.Step, world.Assignment.Rank, snapshot.Shard).ConfigureAwait(false);
        return new ShardSaved(save.WorldEpoch, save.Step, receipt, snapshotSeconds);
    }

    private async Task<ShardReplicated> ReplicateInBackground(RankWorld world, ReplicaServer replicas, ReplicateShard replicate)
    {
        // The capture is the only work on the step path (queued before the next step); the send overlaps that step.
        var clock = Stopwatch.StartNew();
        var snapshot = await _thread.Run(world.Engine.CaptureReplica).ConfigureAwait(false);
        // The copy alone where the engine measured it: a first capture's one-time buffer setup would space every later round.
        var stall = snapshot.CopySeconds ?? clock.Elapsed.TotalSeconds;
        var key = new ReplicaKey(world.Assignment.JobId, replicate.WorldEpoch, world.Assignment.Rank, replicate.Step);
        // The owner's own copy: the store holds the capture's buffers until the supervisor no longer needs them.
        replicas.Store.Keep(new ReplicaCopy(key, snapshot.Shard, replicate.SamplesConsumed, snapshot));
        if (replicate.BuddyEndpoint is { } buddy)
            await ReplicaClient.PushAsync(buddy, replicas.Secret ?? throw new ReplicaUnavailableException("this process has no replica secret from the supervisor"),
                key, snapshot.Shard, replicate.SamplesConsumed).ConfigureAwait(false);
        return new ShardReplicated(replicate.WorldEpoch, replicate.Step, world.Assignment.Rank, stall);
    }

    private bool IsMemberOf(long epoch, out RankWorld world)
    {
        world = _world!;
        return _world is not null && _world.Epoch == epoch;
    }

    private void ReleaseWorld(string reason)
    {
        if (_world is null) return;
        var world = _world;
        _world = null;
        world.Abort(reason);
        _thread.Run(world.Dispose);
    }

    protected override void PostStop()
    {
        _stopped = true;
        ReleaseWorld("rank stopped");
        if (!_thread.Stop(ElasticTimings.RankThreadStop))
            _log.Warning("rank thread on {0} device {1} did not stop within {2} (torch work still running)", _services.Node, _services.Device, ElasticTimings.RankThreadStop);
    }

    private static Exception Unwrap(Exception e) => e is AggregateException { InnerExceptions.Count: 1 } a ? Unwrap(a.InnerExceptions[0]) : e;

    private static string Describe(Exception e)
    {
        var inner = Unwrap(e);
        return $"{inner.GetType().Name}: {inner.Message}";
    }

    private sealed record RegisterNow
    {
        public static RegisterNow Instance { get; } = new();
    }

    // Local-only completions of the join (never serialised: they hold object references).
    private sealed record WorldReady(RankWorld World);
    private sealed record JoinCrashed(RankAssignment Assignment, Exception Error);
}
