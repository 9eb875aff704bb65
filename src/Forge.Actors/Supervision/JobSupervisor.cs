using Akka.Actor;
using Akka.Event;
using Akka.Remote;
using Forge.Actors.Checkpointing;
using Forge.Actors.Ranks;
using Forge.Actors.Training;
using Forge.Model.Training;
using ClusterEvent = Akka.Cluster.ClusterEvent;

namespace Forge.Actors.Supervision;

/// <summary>
/// Drives one training job over the rank actors that register with it. A state machine:
/// <list type="bullet">
/// <item>Forming: waits for elastic.min_ranks registrations (up to max_ranks), then forms a world.</item>
/// <item>Joining: rank 0 creates the collective group id, every rank joins it and restores its shard.</item>
/// <item>Running: the step barrier; the next RunStep goes out only when every rank reported.</item>
/// <item>Checkpointing: Running, plus shard receipts arriving; the manifest commits only after all of them.</item>
/// <item>Recovering: a rank failed, went silent or died; abort everywhere, drop the lost, re-form.</item>
/// <item>Done: ranks are told to leave; JobFinished is reported once they stopped.</item>
/// </list>
/// Every world carries an epoch; rank messages of older epochs are ignored, which is what makes
/// aborts and re-formations safe against late arrivals.
/// </summary>
public sealed class JobSupervisor : ReceiveActor, IWithTimers
{
    /// <summary>The actor name; ranks find the supervisor at /user/job-supervisor.</summary>
    public const string Name = "job-supervisor";

    private const string FormTimer = "form", SettleTimer = "settle", JoinTimer = "join", StepTimer = "step",
        AbortTimer = "abort", ShutdownTimer = "shutdown";

    private readonly JobSupervisorSettings _settings;
    private readonly ICheckpointStore _store;
    private readonly ITrainingObserver _observer;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private readonly List<IActorRef> _pool = [];     // registered, live ranks in registration order
    private readonly List<IActorRef> _awaiters = [];
    private IActorRef[] _world = [];
    private long _epoch;
    private long _step;                               // completed steps = the next step to run
    private long _samplesConsumed;
    private CheckpointManifest? _committed;
    private readonly HashSet<long> _corruptCheckpoints = [];   // found damaged by a restore in this job
    private bool _fallbackLookup;                              // listing the store for an older checkpoint
    private FlatLayoutInfo? _layout;
    private int _restarts;
    private bool _started;
    private string? _stopReason;

    private readonly HashSet<int> _joined = [];
    private StepBarrier? _barrier;
    private CheckpointInFlight? _checkpoint;
    private bool _stepHeld;                           // a checkpoint is due but the previous one still writes
    private readonly HashSet<IActorRef> _awaitingAbort = [];
    private readonly HashSet<IActorRef> _stopping = [];
    private JobFinished? _finished;

    public JobSupervisor(JobSupervisorSettings settings, ICheckpointStore store, ITrainingObserver observer)
    {
        if (settings.MinRanks < 1)
            throw new ArgumentException($"elastic.min_ranks={settings.MinRanks}: expected at least 1", nameof(settings));
        if (settings.MaxRanks != 0 && settings.MaxRanks < settings.MinRanks)
            throw new ArgumentException($"elastic.max_ranks={settings.MaxRanks}: expected 0 (unbounded) or at least min_ranks={settings.MinRanks}", nameof(settings));
        _settings = settings;
        _store = store;
        _observer = observer;
        _committed = settings.ResumeFrom;
        _step = _committed?.Step ?? 0;
        _samplesConsumed = _committed?.SamplesConsumed ?? 0;
        _layout = _committed?.Layout;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(JobSupervisorSettings settings, ICheckpointStore store, ITrainingObserver observer) =>
        Akka.Actor.Props.Create(() => new JobSupervisor(settings, store, observer));

    protected override void PreStart()
    {
        // In a cluster, an unreachable node is reported long before remote DeathWatch gives up on it.
        if (IsClusterMember)
        {
            Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.UnreachableMember));
            Context.System.EventStream.Subscribe(Self, typeof(AssociationErrorEvent));
        }
        EnterForming();
    }

    protected override void PostStop()
    {
        if (!IsClusterMember) return;
        Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
        Context.System.EventStream.Unsubscribe(Self);
    }

    private bool IsClusterMember => ((ExtendedActorSystem)Context.System).Provider is Akka.Cluster.ClusterActorRefProvider;

    // ---------------------------------------------------------------- Forming

    private void EnterForming()
    {
        Timers.StartSingleTimer(FormTimer, new FormTimedOut(_epoch), _settings.FormTimeout);
        Become(Forming);
        FormWhenReady();
    }

    private void Forming()
    {
        Receive<RegisterRank>(r => { Register(r); FormWhenReady(); });
        Receive<FormationSettled>(_ => { if (_pool.Count >= _settings.MinRanks) StartFormation(); });
        Receive<FormTimedOut>(t => t.Epoch == _epoch, _ => Finish(false, _epoch == 0 && _settings.ExpectedRanks > 0
            ? $"only {_pool.Count} of the {_settings.ExpectedRanks} launched ranks registered within distributed.form_timeout_sec={_settings.FormTimeout.TotalSeconds}"
            : $"only {_pool.Count} of elastic.min_ranks={_settings.MinRanks} ranks registered within distributed.form_timeout_sec={_settings.FormTimeout.TotalSeconds}"));
        Receive<Terminated>(t => _pool.Remove(t.ActorRef));
        Receive<ClusterEvent.UnreachableMember>(u => DropAll(RanksAt(u.Member.Address), $"node {u.Member.Address} is unreachable"));
        Receive<AssociationErrorEvent>(RefusesConnections, e => DropAll(RanksAt(e.RemoteAddress), GoneReason(e)));
        Receive<StopJob>(s => { _stopReason = s.Reason; Finish(false, null); });
        Common();
    }

    private void FormWhenReady()
    {
        if (_epoch == 0 && _settings.ExpectedRanks > 0)
        {
            if (_pool.Count >= _settings.ExpectedRanks) StartFormation();
        }
        else if (_settings.MaxRanks > 0 && _pool.Count >= _settings.MaxRanks) StartFormation();
        // Re-forming after a loss: the survivors are all there, and every second waited is a second of
        // recovery. Ranks that register later join at the next checkpoint (see CheckpointCommitted).
        else if (_epoch > 0 && _pool.Count >= _settings.MinRanks) StartFormation();
        else if (_pool.Count >= _settings.MinRanks)
            // Restarted by every registration: ranks of one launch arrive in a burst, form after it.
            Timers.StartSingleTimer(SettleTimer, FormationSettled.Instance, _settings.FormationSettle);
    }

    // ---------------------------------------------------------------- Joining

    private void StartFormation()
    {
        Timers.Cancel(FormTimer);
        Timers.Cancel(SettleTimer);
        _epoch++;
        _world = _pool.Take(_settings.MaxRanks > 0 ? _settings.MaxRanks : int.MaxValue).ToArray();
        _joined.Clear();
        _world[0].Tell(new CreateGroup(_epoch));
        Timers.StartSingleTimer(JoinTimer, new JoinTimedOut(_epoch), _settings.FormTimeout);
        Become(Joining);
    }

    private void Joining()
    {
        Receive<GroupCreated>(g => g.WorldEpoch == _epoch, g =>
        {
            // Restoring a large checkpoint takes seconds to minutes (reading and verifying every chunk): say so first.
            if (_committed is { } restore)
                _observer.OnMessage($"world {_epoch}: {_world.Length} rank(s) restoring the checkpoint at step {restore.Step} " +
                                    $"({restore.Shards.Sum(sh => sh.Chunks.Sum(c => c.Bytes)) / (1024.0 * 1024.0):F1} MiB)");
            for (var rank = 0; rank < _world.Length; rank++)
                _world[rank].Tell(new JoinWorld(new RankAssignment(_settings.JobId, _epoch, rank, _world.Length, g.GroupId), _committed));
        });
        Receive<WorldJoined>(j => j.WorldEpoch == _epoch, j =>
        {
            // Ranks built from different model configs would average unrelated gradients.
            if (_layout is not null && (_layout.Numel != j.Layout.Numel || _layout.Parameters.Count != j.Layout.Parameters.Count))
            {
                Recover($"rank {j.Rank} built a model of {j.Layout.Numel} parameters in {j.Layout.Parameters.Count} tensors, " +
                        $"the job's has {_layout.Numel} in {_layout.Parameters.Count}: its node runs a different model config", [Sender]);
                return;
            }
            _joined.Add(j.Rank);
            _layout = j.Layout;
            if (_joined.Count == _world.Length) WorldFormed();
        });
        Receive<JoinFailed>(f => f.WorldEpoch == _epoch && f.CorruptCheckpointStep is { } s && s == _committed?.Step, f =>
        {
            // The checkpoint is damaged, not the rank: keep every rank, and restore an older checkpoint.
            var damaged = f.CorruptCheckpointStep!.Value;
            _corruptCheckpoints.Add(damaged);
            _fallbackLookup = true;
            _store.ListAsync(_settings.JobId).PipeTo(Self,
                success: committed => new CommittedListed(damaged, committed),
                failure: e => new CommittedListed(damaged, [], e.Message));
            Recover($"rank {f.Rank} could not restore the checkpoint at step {damaged} for world {_epoch}: {f.Error}", []);
        });
        Receive<JoinFailed>(f => f.WorldEpoch == _epoch, f => Recover($"rank {f.Rank} could not join world {_epoch}: {f.Error}", [Sender]));
        Receive<JoinTimedOut>(t => t.Epoch == _epoch, _ =>
        {
            var missing = Enumerable.Range(0, _world.Length).Where(r => !_joined.Contains(r)).ToArray();
            Recover($"ranks {string.Join(", ", missing)} did not join world {_epoch} within distributed.form_timeout_sec={_settings.FormTimeout.TotalSeconds}",
                missing.Select(r => _world[r]));
        });
        Receive<StopJob>(s => { _stopReason = s.Reason; Finish(false, null); });
        MembershipHandlers();
        Common();
    }

    private void WorldFormed()
    {
        Timers.Cancel(JoinTimer);
        if (!_started)
        {
            _started = true;
            _observer.OnJobStarted(new JobStarted(_settings.JobId, _world.Length, _step, _settings.MaxSteps, _layout!.Numel));
        }
        else
        {
            _observer.OnMessage($"world {_epoch} formed with {_world.Length} ranks; continuing from step {_step}");
        }
        Become(Running);
        Continue();
    }

    // ---------------------------------------------------------------- Running and Checkpointing

    private void Running()
    {
        StepHandlers();
        MembershipHandlers();
        Common();
    }

    private void Checkpointing()
    {
        Receive<ShardSaved>(s =>
        {
            if (_checkpoint is null || !_checkpoint.Accept(s)) return;
            if (_checkpoint.AllShardsSaved) Commit(_checkpoint);
        });
        Receive<ShardSaveFailed>(f => _checkpoint is not null && f.WorldEpoch == _checkpoint.WorldEpoch && f.Step == _checkpoint.Step,
            f => AbandonCheckpoint($"rank {f.Rank} could not save its shard: {f.Error}"));
        Receive<CheckpointCommitted>(c =>
        {
            Committed(c);
            if (c.Checkpoint.Final) { Finish(_step >= _settings.MaxSteps, null); return; }
            if (CanScaleUp)
            {
                Recover($"{_pool.Count - _world.Length} more ranks are available: re-forming at the checkpoint of step {c.Manifest.Step}", [], countsAsRestart: false);
                return;
            }
            Become(Running);
            if (_stepHeld) { _stepHeld = false; Continue(); }
        });
        Receive<CheckpointCommitFailed>(f => AbandonCheckpoint($"committing the manifest failed: {f.Error.Message}"));
        StepHandlers();
        MembershipHandlers();
        Common();
    }

    private void StepHandlers()
    {
        Receive<StepDone>(d => d.WorldEpoch == _epoch && _barrier is not null, d =>
        {
            if (!_barrier!.Arrive(d.Rank, d.Result)) return;
            if (_barrier.Complete) BarrierPassed();
        });
        Receive<StepFailed>(f => f.WorldEpoch == _epoch, f =>
            // A collective error usually means a PEER died: blame nobody yet, the abort probe finds the dead.
            Recover($"rank {f.Rank} failed step {f.Step}: {f.Error}", f.PeerFailure ? [] : [Sender]));
        Receive<StepTimedOut>(t => t.Epoch == _epoch && _barrier?.Step == t.Step, _ =>
        {
            var silent = _barrier!.Missing.ToArray();
            Recover($"ranks {string.Join(", ", silent)} did not report step {_barrier.Step} within distributed.step_timeout_sec={_settings.StepTimeout.TotalSeconds}",
                silent.Select(r => _world[r]));
        });
        // Acted on at the next barrier: the step in flight finishes, then the final checkpoint.
        Receive<StopJob>(s => _stopReason ??= s.Reason);
    }

    private void StartStep()
    {
        _barrier = new StepBarrier(_step, _world.Length);
        foreach (var rank in _world) rank.Tell(new RunStep(_epoch, _step));
        Timers.StartSingleTimer(StepTimer, new StepTimedOut(_epoch, _step), _settings.StepTimeout);
    }

    private void BarrierPassed()
    {
        Timers.Cancel(StepTimer);
        var report = _barrier!.Aggregate();
        var evalLoss = _barrier.EvalLoss;
        _samplesConsumed += _barrier.Samples;
        _barrier = null;
        _step++;
        _observer.OnStep(report);
        // Numbered like checkpoints, in steps done: the eval scored the weights after this step's update.
        if (evalLoss is { } loss) _observer.OnEval(_step, loss);
        Continue();
    }

    /// <summary>After a barrier (or a commit that released a held step): checkpoint, finish or run the next step.</summary>
    private void Continue()
    {
        var final = _step >= _settings.MaxSteps || _stopReason is not null;
        // Nothing to save where the world started: the last commit, or the seeded init at step 0.
        var progressed = _step > (_committed?.Step ?? 0);
        if (final && !progressed) { Finish(_step >= _settings.MaxSteps, null); return; }
        var due = progressed && (final || (_settings.CheckpointInterval > 0 && _step % _settings.CheckpointInterval == 0));
        if (due)
        {
            if (_checkpoint is not null) { _stepHeld = true; return; }   // one checkpoint writes at a time
            _checkpoint = new CheckpointInFlight(_epoch, _step, _world.Length, final);
            foreach (var rank in _world) rank.Tell(new SaveShard(_epoch, _step));
            Become(Checkpointing);
            if (final) return;
        }
        StartStep();   // the shard writes overlap this step: ranks snapshot before running it
    }

    private void Commit(CheckpointInFlight checkpoint)
    {
        checkpoint.Committing = true;
        var cursor = _settings.DataCursorAfter?.Invoke(checkpoint.Step);
        var manifest = new CheckpointManifest
        {
            JobId = _settings.JobId,
            Step = checkpoint.Step,
            WorldSize = _world.Length,
            Layout = _layout!,
            Shards = checkpoint.Receipts,
            DataEpoch = cursor?.Epoch ?? 0,
            DataPosition = cursor?.Position ?? _samplesConsumed,
            SamplesConsumed = cursor?.SamplesConsumed ?? _samplesConsumed,
            RngSeed = _settings.RngSeed,
            SchedulerStep = checkpoint.Step,
            FrozenParameters = _settings.FrozenParameters,
            ModelConfigHash = _settings.ModelConfigHash,
            CommittedAt = DateTimeOffset.UtcNow,
        };
        _store.CommitAsync(manifest).PipeTo(Self,
            success: () => new CheckpointCommitted(checkpoint, manifest),
            failure: e => new CheckpointCommitFailed(checkpoint, e));
    }

    private void Committed(CheckpointCommitted c)
    {
        _checkpoint = null;
        if (_committed is null || c.Manifest.Step >= _committed.Step) _committed = c.Manifest;
        _observer.OnCheckpoint(c.Manifest.Step, c.Checkpoint.StallSeconds, c.Checkpoint.ElapsedSeconds);
    }

    private void AbandonCheckpoint(string reason)
    {
        var checkpoint = _checkpoint!;
        _checkpoint = null;
        _observer.OnMessage($"checkpoint at step {checkpoint.Step} abandoned: {reason}");
        if (checkpoint.Final) { Finish(false, $"the final checkpoint at step {checkpoint.Step} failed: {reason}"); return; }
        Become(Running);
        if (_stepHeld) { _stepHeld = false; Continue(); }
    }

    private bool CanScaleUp =>
        _stopReason is null && _pool.Count > _world.Length && (_settings.MaxRanks == 0 || _world.Length < _settings.MaxRanks);

    // ---------------------------------------------------------------- Recovering

    private void Recover(string reason, IEnumerable<IActorRef> lost, bool countsAsRestart = true)
    {
        Timers.Cancel(StepTimer);
        Timers.Cancel(JoinTimer);
        _barrier = null;
        _stepHeld = false;
        if (_checkpoint is { Committing: false })
        {
            _observer.OnMessage($"checkpoint at step {_checkpoint.Step} abandoned: world {_epoch} is being re-formed");
            _checkpoint = null;
        }
        DropAll(lost, reason);
        if (countsAsRestart && ++_restarts > _settings.MaxRestarts)
        {
            Finish(false, $"gave up after elastic.max_restarts={_settings.MaxRestarts}: {reason}");
            return;
        }
        _observer.OnMessage(countsAsRestart
            ? $"world {_epoch} lost: {reason}; recovering (restart {_restarts} of {_settings.MaxRestarts})"
            : reason);
        // Every survivor aborts its collective group (freeing ranks blocked on a dead peer) and
        // acknowledges; a rank that cannot acknowledge in time is as good as dead.
        _awaitingAbort.Clear();
        foreach (var rank in _world.Where(_pool.Contains))
        {
            _awaitingAbort.Add(rank);
            rank.Tell(new AbortStep(_epoch, reason));
        }
        Timers.StartSingleTimer(AbortTimer, new AbortTimedOut(_epoch), _settings.AbortTimeout);
        Become(Recovering);
        ReformWhenSettled();
    }

    private void Recovering()
    {
        Receive<StepAborted>(a => a.WorldEpoch == _epoch, _ => { _awaitingAbort.Remove(Sender); ReformWhenSettled(); });
        Receive<AbortTimedOut>(t => t.Epoch == _epoch, _ =>
        {
            DropAll(_awaitingAbort.ToArray(), $"no answer to the abort within {_settings.AbortTimeout.TotalSeconds} s");
            _awaitingAbort.Clear();
            ReformWhenSettled();
        });
        Receive<CheckpointCommitted>(c => { Committed(c); ReformWhenSettled(); });
        Receive<CheckpointCommitFailed>(f =>
        {
            _observer.OnMessage($"checkpoint at step {f.Checkpoint.Step} abandoned: committing the manifest failed: {f.Error.Message}");
            _checkpoint = null;
            ReformWhenSettled();
        });
        Receive<RegisterRank>(Register);
        Receive<CommittedListed>(listed =>
        {
            _fallbackLookup = false;
            var older = listed.Committed.Where(m => m.Step < listed.DamagedStep && !_corruptCheckpoints.Contains(m.Step)).MaxBy(m => m.Step);
            if (older is null)
            {
                Finish(false, $"the checkpoint at step {listed.DamagedStep} is damaged and no older committed checkpoint could be used" +
                              (listed.Error is null ? "" : $" ({listed.Error})"));
                return;
            }
            _observer.OnMessage($"checkpoint at step {listed.DamagedStep} is damaged: falling back to the checkpoint at step {older.Step}");
            _committed = older;
            ReformWhenSettled();
        });
        Receive<Terminated>(t => { _pool.Remove(t.ActorRef); _awaitingAbort.Remove(t.ActorRef); ReformWhenSettled(); });
        Receive<ClusterEvent.UnreachableMember>(u => LoseNodeWhileRecovering(u.Member.Address, $"node {u.Member.Address} is unreachable"));
        Receive<AssociationErrorEvent>(RefusesConnections, e => LoseNodeWhileRecovering(e.RemoteAddress, GoneReason(e)));
        Receive<StopJob>(s => { _stopReason = s.Reason; Finish(false, null); });
        Common();
    }

    private void ReformWhenSettled()
    {
        // A commit in flight, or the search for an older checkpoint, decides which checkpoint the new world restores: wait for it.
        if (_awaitingAbort.Count > 0 || _checkpoint is { Committing: true } || _fallbackLookup) return;
        Timers.Cancel(AbortTimer);
        _step = _committed?.Step ?? 0;
        _samplesConsumed = _committed?.SamplesConsumed ?? 0;
        EnterForming();
    }

    // ---------------------------------------------------------------- Done

    private void Finish(bool completed, string? error)
    {
        foreach (var timer in new[] { FormTimer, SettleTimer, JoinTimer, StepTimer, AbortTimer }) Timers.Cancel(timer);
        var hint = completed || _committed is null ? null : _settings.ResumeHint(_committed.Step);
        _finished = new JobFinished(_step, completed, hint, error);
        var reason = error ?? (completed ? "the job completed" : $"the job stopped: {_stopReason}");
        _stopping.Clear();
        foreach (var rank in _pool)
        {
            _stopping.Add(rank);
            rank.Tell(new LeaveJob(reason));
        }
        Timers.StartSingleTimer(ShutdownTimer, ShutdownTimedOut.Instance, _settings.ShutdownTimeout);
        Become(Done);
        if (_stopping.Count == 0) Report();
    }

    private void Done()
    {
        Receive<Terminated>(t => { if (_stopping.Remove(t.ActorRef) && _stopping.Count == 0) Report(); });
        Receive<ShutdownTimedOut>(_ =>
        {
            _log.Warning("{0} ranks did not stop within {1}; reporting the job's end anyway", _stopping.Count, _settings.ShutdownTimeout);
            Report();
        });
        Receive<AwaitJobFinished>(_ => _awaiters.Add(Sender));
        Receive<RegisterRank>(_ => Sender.Tell(new LeaveJob("the job has finished")));
        ReceiveAny(_ => { });   // late step and shard reports of the last world
    }

    private void Report()
    {
        Timers.Cancel(ShutdownTimer);
        _observer.OnJobFinished(_finished!);
        foreach (var awaiter in _awaiters) awaiter.Tell(_finished);
        _awaiters.Clear();
        Context.Stop(Self);
    }

    // ---------------------------------------------------------------- shared handlers

    private void MembershipHandlers()
    {
        Receive<RegisterRank>(Register);   // newcomers wait in the pool for the next formation
        Receive<Terminated>(t =>
        {
            if (_world.Contains(t.ActorRef)) Recover($"rank {Array.IndexOf(_world, t.ActorRef)} ({t.ActorRef.Path}) stopped", [t.ActorRef]);
            else _pool.Remove(t.ActorRef);
        });
        Receive<ClusterEvent.UnreachableMember>(u => LoseNode(u.Member.Address, $"node {u.Member.Address} is unreachable"));
        Receive<AssociationErrorEvent>(RefusesConnections, e => LoseNode(e.RemoteAddress, GoneReason(e)));
    }

    private void LoseNode(Address address, string reason)
    {
        var lost = RanksAt(address);
        if (lost.Any(_world.Contains)) Recover(reason, lost);
        else DropAll(lost, reason);
    }

    private void LoseNodeWhileRecovering(Address address, string reason)
    {
        var lost = RanksAt(address);
        DropAll(lost, reason);
        foreach (var rank in lost) _awaitingAbort.Remove(rank);
        ReformWhenSettled();
    }

    /// <summary>
    /// True when remoting could not reach a node because nothing listens on its port any more: its process
    /// is gone (killed, crashed), so its ranks are lost now. This is seconds sooner than the failure
    /// detector, whose 10 s heartbeat pause exists because a training step may keep every core busy.
    /// A slow or partitioned node times out instead, and is left to the failure detector.
    /// </summary>
    private static bool RefusesConnections(AssociationErrorEvent e)
    {
        for (var cause = e.Cause; cause is not null; cause = cause.InnerException)
        {
            if (cause is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused }) return true;
            if (cause.Message.Contains("Connection refused", StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    private static string GoneReason(AssociationErrorEvent e) => $"node {e.RemoteAddress} refuses connections (its process is gone)";

    private void Common()
    {
        Receive<AwaitJobFinished>(_ => _awaiters.Add(Sender));
        // Reports of an older world arrive after every abort; they are expected and carry nothing.
        ReceiveAny(message => _log.Debug("ignored {0} from {1}", message, Sender));
    }

    private void Register(RegisterRank registration)
    {
        if (Refusal(registration) is { } refusal)
        {
            // Told once per attempt; the rank stops and its process reports why.
            _observer.OnMessage($"rank on {registration.Node} device {registration.Device} refused: {refusal}");
            Sender.Tell(new LeaveJob(refusal, Refused: true));
            return;
        }
        if (!_pool.Contains(Sender))
        {
            _pool.Add(Sender);
            Context.Watch(Sender);
            _observer.OnMessage($"rank registered: {registration.Node} device {registration.Device} ({_pool.Count} available)");
        }
        Sender.Tell(new RankRegistered(_settings.JobId));
    }

    /// <summary>Why a rank may not join this job, or null. Each would break checkpoints or training silently.</summary>
    private string? Refusal(RegisterRank r)
    {
        if (r.JobId.Length > 0 && r.JobId != _settings.JobId)
            return $"its config trains job '{r.JobId}' but this job is '{_settings.JobId}': start `forge node` with the config the seed trains with (same run_name)";
        if (r.ModelConfigHash.Length > 0 && _settings.ModelConfigHash.Length > 0 && r.ModelConfigHash != _settings.ModelConfigHash)
            return "its [model]/[vision_encoder]/[adapter]/[vlm] config differs from this job's: start `forge node` with the config the seed trains with";
        if (_settings.StoreIsMachineLocal && !string.Equals(r.Node, _settings.Machine, StringComparison.OrdinalIgnoreCase))
            return $"checkpoint.store = \"sqlite\" keeps checkpoints in a file on {_settings.Machine}, where ranks on {r.Node} cannot write their shards: " +
                   "use checkpoint.store = \"postgresql\" with a connection string every machine can reach";
        return null;
    }

    private void DropAll(IEnumerable<IActorRef> ranks, string reason)
    {
        foreach (var rank in ranks.ToArray())
        {
            if (!_pool.Remove(rank)) continue;
            Context.Unwatch(rank);
            rank.Tell(new LeaveJob($"dropped from the job: {reason}", MayRejoin: true));
        }
    }

    private IActorRef[] RanksAt(Address address) => _pool.Where(r => r.Path.Address.Equals(address)).ToArray();

    // Timer and completion messages: local to this actor, never serialised.
    private sealed record FormTimedOut(long Epoch);
    private sealed record JoinTimedOut(long Epoch);
    private sealed record StepTimedOut(long Epoch, long Step);
    private sealed record AbortTimedOut(long Epoch);
    private sealed record CheckpointCommitted(CheckpointInFlight Checkpoint, CheckpointManifest Manifest);
    private sealed record CheckpointCommitFailed(CheckpointInFlight Checkpoint, Exception Error);
    private sealed record CommittedListed(long DamagedStep, IReadOnlyList<CheckpointManifest> Committed, string? Error = null);

    private sealed record FormationSettled
    {
        public static FormationSettled Instance { get; } = new();
    }

    private sealed record ShutdownTimedOut
    {
        public static ShutdownTimedOut Instance { get; } = new();
    }
}
