using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Akka.Remote;
using Forge.Actors.Checkpointing;
using Forge.Actors.Protocol;
using ClusterEvent = Akka.Cluster.ClusterEvent;

namespace Forge.Actors.Supervision;

/// <summary>
/// Drives one training job over the rank actors that register with it. A state machine whose states
/// carry their own data; the decisions are <see cref="JobPolicy"/>'s, and what the job has achieved is
/// <see cref="JobProgress"/>, the one record every state shares:
/// <list type="bullet">
/// <item>Opening: writes this incarnation's job record (<see cref="JobOpening"/>); a supervisor that takes
/// the job over also reads the resolved config and the newest checkpoint from the store there.</item>
/// <item>Forming: waits for ranks (<see cref="JobPolicy.Forming"/>), then forms a world.</item>
/// <item>Joining (<see cref="JoiningData"/>): rank 0 creates the collective group id, every rank joins it and restores its shard.</item>
/// <item>Running (<see cref="RunningData"/>): the step barrier, and at most one checkpoint writing in the background.</item>
/// <item>Recovering (<see cref="RecoveringData"/>): a rank failed, went silent or died; every survivor aborts, then the job re-forms.</item>
/// <item>Done (<see cref="DoneData"/>): ranks are told to leave; JobFinished is reported once they stopped.</item>
/// </list>
/// Every world carries an epoch; rank messages of older epochs are ignored, which is what makes
/// aborts and re-formations safe against late arrivals.
/// </summary>
public sealed class JobSupervisor : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    /// <summary>The actor name; ranks find the supervisor at /user/job-supervisor.</summary>
    public const string Name = "job-supervisor";

    private const string FormTimer = "form", SettleTimer = "settle", JoinTimer = "join", StepTimer = "step",
        AbortTimer = "abort", ShutdownTimer = "shutdown";

    private readonly SupervisorStart _start;
    private JobSupervisorSettings _settings;
    private JobPolicy _policy;
    // This incarnation's job record: its token is what every rank must read back from its own store.
    private JobRecord? _record;
    private readonly ICheckpointStore _store;
    private readonly ITrainingObserver _observer;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    // Job-wide, in every state: the registered live ranks (registration order), who waits for the end, and the progress.
    private readonly RankPool _pool = new();
    private readonly List<IActorRef> _awaiters = [];
    private JobProgress _job;
    // The epoch before this supervisor's first world (see Opening).
    private long _epochBase;
    // Job-wide too: where the buddy replicas of the last worlds are, and each rank's replica endpoint (its process).
    private readonly ReplicaLedger _replicas = new();
    private readonly Dictionary<IActorRef, string> _replicaEndpoints = [];
    // Memory-only processes (`forge node --memory-only`): their holder actor and replica endpoint. Buddies of ranks
    // that have no other process to copy to; they train nothing, so they are never in a world.
    private readonly Dictionary<IActorRef, string> _holders = [];
    // What every replica channel connection of this incarnation's job proves (ReplicaServer.Trust).
    private readonly byte[] _replicaSecret = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);

    public JobSupervisor(SupervisorStart start, ICheckpointStore store, ITrainingObserver observer)
    {
        _start = start;
        // A take-over learns its settings in Opening; until then these are a launch's, or placeholders nothing reads.
        _settings = start is SupervisorStart.Launch launch ? Validated(launch.Settings) : new JobSupervisorSettings { JobId = "", MaxSteps = 0 };
        _policy = new JobPolicy(_settings);
        _store = store;
        _observer = observer;
        _job = JobProgress.ResumingFrom(_settings.ResumeFrom);
    }

    /// <summary>A cluster singleton's incarnation: told when it stops, so its process knows whether it still hosts the job.</summary>
    public JobSupervisor(SupervisorStarts starts, ICheckpointStore store, ITrainingObserver observer) : this(starts.Next(), store, observer) =>
        _starts = starts;

    private readonly SupervisorStarts? _starts;

    public ITimerScheduler Timers { get; set; } = null!;
    public IStash Stash { get; set; } = null!;

    /// <summary>The props a <see cref="Akka.Cluster.Tools.Singleton.ClusterSingletonManager"/> starts: each instance asks <paramref name="starts"/> how to begin.</summary>
    public static Props SingletonProps(SupervisorStarts starts, ICheckpointStore store, ITrainingObserver observer) =>
        Akka.Actor.Props.Create(() => new JobSupervisor(starts, store, observer));

    public static Props Props(SupervisorStart start, ICheckpointStore store, ITrainingObserver observer) =>
        Akka.Actor.Props.Create(() => new JobSupervisor(start, store, observer));

    public static Props Props(JobSupervisorSettings settings, ICheckpointStore store, ITrainingObserver observer) =>
        Props(new SupervisorStart.Launch(settings), store, observer);

    private static JobSupervisorSettings Validated(JobSupervisorSettings settings)
    {
        if (settings.MinRanks < 1)
            throw new ArgumentException($"elastic.min_ranks={settings.MinRanks}: expected at least 1", nameof(settings));
        if (settings.MaxRanks != 0 && settings.MaxRanks < settings.MinRanks)
            throw new ArgumentException($"elastic.max_ranks={settings.MaxRanks}: expected 0 (unbounded) or at least min_ranks={settings.MinRanks}", nameof(settings));
        return settings;
    }

    protected override void PreStart()
    {
        // In a cluster, an unreachable node is reported long before remote DeathWatch gives up on it.
        if (IsClusterMember)
        {
            Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.UnreachableMember));
            Context.System.EventStream.Subscribe(Self, typeof(AssociationErrorEvent));
        }
        EnterOpening();
    }

    protected override void PostStop()
    {
        _starts?.Stopped();
        if (!IsClusterMember) return;
        Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
        Context.System.EventStream.Unsubscribe(Self);
    }

    private bool IsClusterMember => ((ExtendedActorSystem)Context.System).Provider is Akka.Cluster.ClusterActorRefProvider;

    // ---------------------------------------------------------------- Opening

    private void EnterOpening()
    {
        var self = Self;
        JobOpening.OpenAsync(_start, _store, message => self.Tell(new OpeningNote(message)), CancellationToken.None)
            .PipeTo(Self, success: opened => opened, failure: e => new OpeningFailed(e));
        Become(Opening);
    }

    private void Opening()
    {
        Receive<OpeningNote>(n => _observer.OnMessage(n.Text));
        Receive<OpenedJob>(opened =>
        {
            _record = opened.Record;
            // World epochs stay unique across supervisors (a rank may still hold a world of the previous one):
            // supervisor 2 numbers its worlds from 1000001.
            _epochBase = (opened.Record.Incarnation - 1) * 1_000_000;
            _job = _job with { Epoch = _epochBase };
            if (opened.TookOver)
            {
                _settings = Validated(opened.Settings);
                _policy = new JobPolicy(_settings);
                _job = JobProgress.ResumingFrom(_settings.ResumeFrom) with { Epoch = _job.Epoch };
                // The journal marks the hand-over; the console of the node that now hosts the job says it too.
                _observer.OnMessage($"supervisor {opened.Record.Incarnation} on {opened.Record.Host} took job '{_settings.JobId}' over " +
                                    $"from supervisor {opened.Previous!.Incarnation} on {opened.Previous.Host}; " +
                                    (_job.Committed is { } c ? $"resuming from the checkpoint at step {c.Step}" : "no checkpoint was committed: starting from step 0"));
                if (_job.Step >= _settings.MaxSteps)
                {
                    // The previous supervisor finished the job and its node left: nothing is left to run or report.
                    _log.Info("job '{0}' already completed at step {1}; supervisor {2} stops", _settings.JobId, _job.Step, opened.Record.Incarnation);
                    var done = new JobFinished(_job.Step, true, null, null);
                    foreach (var awaiter in _awaiters) awaiter.Tell(done);
                    Context.Stop(Self);
                    return;
                }
            }
            Stash.UnstashAll();
            EnterForming();
        });
        Receive<OpeningFailed>(f =>
        {
            var jobId = _start is SupervisorStart.TakeOver t ? t.JobId : _settings.JobId;
            var reason = $"could not open job '{jobId}' in the checkpoint store ({_store.Location}): {f.Error.Message}";
            _observer.OnMessage(reason);
            Stash.UnstashAll();
            Finish(false, reason);
        });
        Receive<AwaitJobFinished>(_ => _awaiters.Add(Sender));
        // Registrations wait for the token: a proof asked before the record is written would fail.
        ReceiveAny(_ => Stash.Stash());
    }

    // ---------------------------------------------------------------- Forming

    private void EnterForming()
    {
        Timers.CancelAll();
        Timers.StartSingleTimer(FormTimer, new FormTimedOut(_job.Epoch), _settings.FormTimeout);
        Become(Forming);
        FormWhenReady();
    }

    private void Forming()
    {
        HolderHandlers();
        Receive<RegisterRank>(Register);
        Receive<StoreProof>(p => { if (Admit(p)) FormWhenReady(); });
        Receive<FormationSettled>(_ => { if (_pool.Count >= _settings.MinRanks) StartFormation(); });
        Receive<FormTimedOut>(t => t.Epoch == _job.Epoch, _ => Finish(false, _job.Epoch == _epochBase && _settings.ExpectedRanks > 0
            ? $"only {_pool.Count} of the {_settings.ExpectedRanks} launched ranks registered within distributed.form_timeout_sec={_settings.FormTimeout.TotalSeconds}"
            : $"only {_pool.Count} of elastic.min_ranks={_settings.MinRanks} ranks registered within distributed.form_timeout_sec={_settings.FormTimeout.TotalSeconds}"));
        Receive<Terminated>(t => RemoveFromPool(t.ActorRef));
        Receive<ClusterEvent.UnreachableMember>(u => { LoseHoldersAt(u.Member.Address, $"node {u.Member.Address} is unreachable"); DropAll(RanksAt(u.Member.Address), $"node {u.Member.Address} is unreachable"); });
        Receive<AssociationErrorEvent>(NodeLoss.ProcessIsGone, e => { LoseHoldersAt(e.RemoteAddress, GoneReason(e)); DropAll(RanksAt(e.RemoteAddress), GoneReason(e)); });
        Receive<StopJob>(s => { _job = _job with { StopReason = s.Reason }; Finish(false, null); });
        Common(nameof(Forming));
    }

    private void FormWhenReady()
    {
        // A supervisor's first world waits for the launch (or, after a take-over, the survivors) to register.
        switch (_policy.Forming(_pool.Count, firstWorld: _job.Epoch == _epochBase))
        {
            case FormingMove.Form: StartFormation(); break;
            // Restarted by every registration: ranks of one launch arrive in a burst, form after it.
            case FormingMove.Settle: Timers.StartSingleTimer(SettleTimer, FormationSettled.Instance, _settings.FormationSettle); break;
        }
    }

    // ---------------------------------------------------------------- Joining

    private void StartFormation()
    {
        Timers.CancelAll();
        // A supervisor that took the job over goes on from the newest step the survivors still hold in memory
        // (their buddy replicas), when no durable checkpoint is newer: at most a step is lost, as for a node.
        if (!_job.Started && _job.FromMemory is null && _job.Layout is { } layout
            && _replicas.RestorePoint(layout.Numel).Restore is { } held && held.Step >= _job.CommittedStep)
            _job = _job.RewoundTo(held);
        var ranks = _pool.First(_policy.WorldSize(_pool.Count));
        _job = _job with
        {
            Epoch = _job.Epoch + 1,
            GlobalBatchSize = _job.GlobalBatchSize > 0 ? _job.GlobalBatchSize : _policy.GlobalBatchSize(_job.Committed, ranks.Length),
        };
        var data = new JoiningData(new World(_job.Epoch, ranks));
        ranks[0].Tell(new CreateGroup(_job.Epoch));
        Timers.StartSingleTimer(JoinTimer, new JoinTimedOut(_job.Epoch), _settings.FormTimeout);
        Become(() => Joining(data));
    }

    private void Joining(JoiningData data)
    {
        HolderHandlers();
        var world = data.World;
        Receive<GroupCreated>(g => g.WorldEpoch == world.Epoch, g =>
        {
            // Restoring a large checkpoint takes seconds to minutes (reading and verifying every chunk): say so first.
            if (_job.FromMemory is { } memory)
                _observer.OnMessage($"world {world.Epoch}: {world.Size} rank(s) restoring step {memory.Step} from memory (copies of world {memory.SourceEpoch}'s {memory.SourceWorldSize} shards)");
            else if (_job.Committed is { } restore)
                _observer.OnMessage($"world {world.Epoch}: {world.Size} rank(s) restoring the checkpoint at step {restore.Step} " +
                                    $"({restore.Shards.Sum(sh => sh.Chunks.Sum(c => c.Bytes)) / (1024.0 * 1024.0):F1} MiB)");
            for (var rank = 0; rank < world.Size; rank++)
                world.Ranks[rank].Tell(new JoinWorld(
                    new RankAssignment(_settings.JobId, world.Epoch, rank, world.Size, g.GroupId, _job.GlobalBatchSize), _job.Committed, _job.FromMemory));
        });
        Receive<WorldJoined>(j => j.WorldEpoch == world.Epoch, j =>
        {
            // Ranks built from different model configs would average unrelated gradients.
            if (_job.Layout is { } layout && (layout.Numel != j.Layout.Numel || layout.Parameters.Count != j.Layout.Parameters.Count))
            {
                Recover($"rank {j.Rank} built a model of {j.Layout.Numel} parameters in {j.Layout.Parameters.Count} tensors, " +
                        $"the job's has {layout.Numel} in {layout.Parameters.Count}: its node runs a different model config", world, [Sender]);
                return;
            }
            _job = _job with { Layout = j.Layout };
            data.Joined.Add(j.Rank);
            data.ReplicaEndpoints[j.Rank] = j.ReplicaEndpoint;
            data.Relays[j.Rank] = j.Relay ?? Sender;
            _replicaEndpoints[Sender] = j.ReplicaEndpoint;
            if (data.Joined.Count == world.Size) WorldFormed(world, data.ReplicaEndpoints, new StepRelays(data.Relays));
        });
        Receive<JoinFailed>(f => f.WorldEpoch == world.Epoch && f.CorruptCheckpointStep is { } s && s == _job.Committed?.Step, f =>
        {
            // The checkpoint is damaged, not the rank: keep every rank, and restore an older checkpoint.
            var damaged = f.CorruptCheckpointStep!.Value;
            _job = _job with { Damaged = _job.Damaged.Add(damaged) };
            _store.ListAsync(_settings.JobId).PipeTo(Self,
                success: committed => new CommittedListed(damaged, committed),
                failure: e => new CommittedListed(damaged, [], e.Message));
            Recover($"rank {f.Rank} could not restore the checkpoint at step {damaged} for world {world.Epoch}: {f.Error}", world, [], listingFallback: true);
        });
        Receive<JoinFailed>(f => f.WorldEpoch == world.Epoch && f.MemoryCopyLost && _job.FromMemory is not null, f =>
        {
            // A copy went with its holder after the restore point was chosen: no rank is to blame, the durable checkpoint is next.
            _replicas.Forget();
            Recover($"rank {f.Rank} could not restore step {_job.FromMemory!.Step} from memory for world {world.Epoch}: {f.Error}", world, []);
        });
        Receive<JoinFailed>(f => f.WorldEpoch == world.Epoch, f => Recover($"rank {f.Rank} could not join world {world.Epoch}: {f.Error}", world, [Sender]));
        Receive<JoinTimedOut>(t => t.Epoch == world.Epoch, _ =>
        {
            var missing = Enumerable.Range(0, world.Size).Where(r => !data.Joined.Contains(r)).ToArray();
            Recover($"ranks {string.Join(", ", missing)} did not join world {world.Epoch} within distributed.form_timeout_sec={_settings.FormTimeout.TotalSeconds}",
                world, missing.Select(r => world.Ranks[r]));
        });
        Receive<StopJob>(s => { _job = _job with { StopReason = s.Reason }; Finish(false, null); });
        MembershipHandlers(world, running: null);
        Common(nameof(Joining));
    }

    private void WorldFormed(World world, string[] replicaEndpoints, StepRelays relays)
    {
        Timers.Cancel(JoinTimer);
        _replicas.BeginWorld(world.Epoch, replicaEndpoints);
        var buddies = BuddiesOf(replicaEndpoints);
        if (_settings.ReplicaInterval > 0 && (world.Size > 1 || _holders.Count > 0) && buddies.Any(b => b is null))
            _observer.OnMessage($"world {world.Epoch}: no buddy replicas (ranks {string.Join(", ", Enumerable.Range(0, world.Size).Where(r => buddies[r] is null))} " +
                                "have no rank in another process, nor a memory-only node, to copy their shard to); a failure restores the durable checkpoint");
        // A first world says where it started only when that was a previous supervisor's memory (the take-over's note
        // named the checkpoint); a re-formed world always says where it restored from.
        var firstWorld = !_job.Started;
        if (!firstWorld || _job.FromMemory is not null)
        {
            var source = _job.FromMemory is { } memory ? $"restored step {memory.Step} from memory" + (firstWorld ? $" (the previous supervisor's world {memory.SourceEpoch})" : "")
                : _job.Committed is { } committed ? $"restored step {committed.Step} from the durable checkpoint"
                : "restarted from the model's init";
            _observer.OnMessage($"world {world.Epoch} formed with {world.Size} ranks; continuing from step {_job.Step}: {source}");
        }
        if (firstWorld)
        {
            _job = _job with { Started = true };
            _observer.OnJobStarted(new JobStarted(_settings.JobId, world.Size, _job.Step, _settings.MaxSteps, _job.Layout!.Numel));
        }
        _job = _job with { FromMemory = null };
        var data = new RunningData(world) { ReplicaEndpoints = replicaEndpoints, Relays = relays };
        Become(() => Running(data));
        Continue(data);
    }

    // ---------------------------------------------------------------- Running

    private void Running(RunningData data)
    {
        HolderHandlers();
        var world = data.World;
        Receive<StepDone>(d => d.WorldEpoch == world.Epoch && data.Barrier is not null, d =>
        {
            if (data.Barrier!.Arrive(d.Rank, d.Result) && data.Barrier.Complete) BarrierPassed(data);
        });
        Receive<StepsDone>(d => d.WorldEpoch == world.Epoch && data.Barrier is not null, d =>
        {
            var barrier = data.Barrier!;
            foreach (var done in d.Done) barrier.Arrive(done.Rank, done.Result);
            if (barrier.Complete) BarrierPassed(data);
        });
        Receive<StepFailed>(f => f.WorldEpoch == world.Epoch, f =>
            // A collective error usually means a PEER died: blame nobody yet, the abort probe finds the dead.
            Recover($"rank {f.Rank} failed step {f.Step}: {f.Error}", world, f.PeerFailure ? [] : [Sender], running: data));
        Receive<StepTimedOut>(t => t.Epoch == world.Epoch && data.Barrier?.Step == t.Step, _ =>
        {
            var silent = data.Barrier!.Missing.ToArray();
            Recover($"ranks {string.Join(", ", silent)} did not report step {data.Barrier.Step} within distributed.step_timeout_sec={_settings.StepTimeout.TotalSeconds}",
                world, silent.Select(r => world.Ranks[r]), running: data);
        });
        // Acted on at the next barrier: the step in flight finishes, then the final checkpoint.
        Receive<StopJob>(s => _job = _job with { StopReason = _job.StopReason ?? s.Reason });

        Receive<ShardSaved>(s => data.Checkpoint is not null, s =>
        {
            // Receipts of another step or world, or repeats, are not this checkpoint's.
            if (data.Checkpoint!.Accept(s) && data.Checkpoint.AllShardsSaved) Commit(data);
        });
        Receive<ShardSaveFailed>(f => data.Checkpoint is { } c && f.WorldEpoch == c.WorldEpoch && f.Step == c.Step,
            f => AbandonCheckpoint(data, $"rank {f.Rank} could not save its shard: {f.Error}"));
        Receive<CheckpointCommitted>(c =>
        {
            data.Checkpoint = null;
            data.Committing = false;
            Committed(c);
            if (c.Checkpoint.Final) { Finish(_job.Step >= _settings.MaxSteps, null); return; }
            if (_policy.ScalesUp(_pool.Count, world.Size, _job.StopReason is not null))
            {
                Recover($"{_pool.Count - world.Size} more ranks are available: re-forming at the checkpoint of step {c.Manifest.Step}",
                    world, [], running: data, countsAsRestart: false);
                return;
            }
            // The end of the job waited for this commit; steps that ran on during it need nothing.
            if (data.Barrier is null) Continue(data);
        });
        Receive<CheckpointCommitFailed>(f => AbandonCheckpoint(data, $"committing the manifest failed: {f.Error.Message}"));
        Receive<ShardReplicated>(r => r.WorldEpoch == world.Epoch, r =>
        {
            _replicas.Replicated(new ReplicaStep(r.WorldEpoch, r.Step), r.Rank);
            // The round's longest capture spaces the next round (elastic.replica_max_overhead).
            data.LastCapture = TimeSpan.FromSeconds(Math.Max(data.LastCapture.TotalSeconds, r.StallSeconds));
        });
        Receive<ShardReplicationFailed>(f => f.WorldEpoch == world.Epoch, f =>
        {
            _replicas.Failed(new ReplicaStep(f.WorldEpoch, f.Step), f.Rank);
            _observer.OnMessage($"copy of step {f.Step} abandoned: rank {f.Rank} could not replicate its shard: {f.Error}");
        });
        MembershipHandlers(world, data);
        Common(nameof(Running));
    }

    private void StartStep(RunningData data)
    {
        data.Barrier = new StepBarrier(_job.Step, data.World.Size);
        // One immutable message for the whole world, one send per process (its relay hands it to its ranks).
        var run = new RunStep(data.World.Epoch, _job.Step);
        foreach (var relay in data.Relays.Processes) relay.Tell(run);
        Timers.StartSingleTimer(StepTimer, new StepTimedOut(data.World.Epoch, _job.Step), _settings.StepTimeout);
    }

    private void BarrierPassed(RunningData data)
    {
        Timers.Cancel(StepTimer);
        var outcome = data.Barrier!.Aggregate();
        data.Barrier = null;
        // With the newest step whose copies are complete: what a failure now would restore from memory.
        var report = outcome.Report with { MemoryStep = _replicas.NewestCopiedStep };
        _job = _job with
        {
            Step = _job.Step + 1,
            SamplesConsumed = _job.SamplesConsumed + outcome.Samples,
            BadStepsInARow = report.Skipped ? _job.BadStepsInARow + 1 : 0,
            SkippedSteps = _job.SkippedSteps + (report.Skipped ? 1 : 0),
        };
        _observer.OnStep(report);
        if (report.Skipped)
            _observer.OnMessage($"step {_job.Step} skipped: loss {report.Loss}, gradient norm {report.GradNorm}; no rank applied its update " +
                                $"({_job.BadStepsInARow} in a row of train.max_bad_steps={_settings.MaxBadSteps}, {_job.SkippedSteps} in all)");
        // Numbered like checkpoints, in steps done: the eval scored the weights after this step's update.
        if (outcome.EvalLoss is { } loss) _observer.OnEval(_job.Step, loss);
        if (_policy.TooManyBadSteps(_job.BadStepsInARow))
        {
            Finish(false, $"{_job.BadStepsInARow} steps in a row diverged (loss or gradient norm not finite), train.max_bad_steps={_settings.MaxBadSteps}; " +
                          (_job.Committed is { } c ? $"the last committed checkpoint (step {c.Step}) is intact" : "no checkpoint was committed"));
            return;
        }
        Continue(data);
    }

    /// <summary>After a barrier, or a commit the end of the job waited for: checkpoint, finish or run the next step.</summary>
    private void Continue(RunningData data)
    {
        switch (_policy.AfterStep(_job.Step, _job.CommittedStep, _job.StopReason is not null, data.Checkpoint is not null, data.CheckpointDeferred))
        {
            case NextMove.Finish:
                Finish(_job.Step >= _settings.MaxSteps, null);
                break;
            case NextMove.AwaitCheckpoint:
                break;   // the commit (or its failure) continues
            case NextMove.FinalCheckpoint:
                StartCheckpoint(data, final: true);
                break;
            case NextMove.Checkpoint:
                StartCheckpoint(data, final: false);
                StepOn(data);   // the shard writes overlap this step: ranks snapshot before running it
                break;
            case NextMove.DeferCheckpoint:
                if (!data.CheckpointDeferred)
                    _observer.OnMessage($"checkpoint at step {_job.Step} deferred: the checkpoint of step {data.Checkpoint!.Step} is not durable yet; " +
                                        "it is taken at the first step after that one commits");
                data.CheckpointDeferred = true;
                StepOn(data);
                break;
            default:
                StepOn(data);
                break;
        }
    }

    /// <summary>
    /// Runs the next step, first sending the copies to buddies when a replica is due (the captures queue on each
    /// torch thread before the step, the sends overlap it). A copy due while the previous round is still on its way
    /// is deferred to the first step after that round ends (<see cref="JobPolicy.Replica"/>): training never waits
    /// for a buddy.
    /// </summary>
    private void StepOn(RunningData data)
    {
        var sinceLastRound = Stopwatch.GetElapsedTime(data.LastRoundStarted);
        switch (_policy.Replica(_job.Step, _replicas.InFlight, data.ReplicaDeferred, sinceLastRound, data.LastCapture))
        {
            // Buddies are chosen per round: a memory-only node that registers after the world formed serves its next round.
            case ReplicaMove.Copy when BuddiesOf(data.ReplicaEndpoints) is var buddies && buddies.All(b => b is not null):
                data.ReplicaDeferred = false;
                data.LastRoundStarted = Stopwatch.GetTimestamp();
                data.LastCapture = TimeSpan.Zero;
                var step = new ReplicaStep(data.World.Epoch, _job.Step);
                var retain = _replicas.Retained;
                _replicas.Started(step, _job.SamplesConsumed, buddies);
                for (var rank = 0; rank < data.World.Size; rank++)
                    data.Relays.OfRank[rank].Tell(new ReplicateShard(step.WorldEpoch, step.Step, _job.SamplesConsumed, buddies[rank], retain, rank));
                if (_holders.Count > 0)
                {
                    var keep = new RetainReplicas(_settings.JobId, [.. retain, step]);
                    foreach (var holder in _holders.Keys) holder.Tell(keep);
                }
                break;
            case ReplicaMove.Defer:
                // Reported once per world: on a link slower than a step every round is deferred, and a line per round says nothing new.
                if (!data.ReplicaDeferralReported)
                    _observer.OnMessage($"copy of step {_job.Step} deferred: " + (_replicas.InFlight
                        ? "the previous copies are still on their way to the buddies; copies are taken at the first step after the previous round ends"
                        : $"the last capture held a step {data.LastCapture.TotalSeconds:F3} s, and elastic.replica_max_overhead = {_settings.ReplicaMaxOverhead} " +
                          $"spaces copies at least {data.LastCapture.TotalSeconds / _settings.ReplicaMaxOverhead:F1} s apart") +
                        " (further deferrals in this world are not reported)");
                data.ReplicaDeferralReported = true;
                data.ReplicaDeferred = true;
                break;
        }
        StartStep(data);
    }

    private void StartCheckpoint(RunningData data, bool final)
    {
        data.Checkpoint = new CheckpointInFlight(data.World.Epoch, _job.Step, data.World.Size, final);
        data.CheckpointDeferred = false;
        var save = new SaveShard(data.World.Epoch, _job.Step);
        foreach (var relay in data.Relays.Processes) relay.Tell(save);
    }

    private void Commit(RunningData data)
    {
        var checkpoint = data.Checkpoint!;
        data.Committing = true;
        var cursor = _settings.DataCursorAfter?.Invoke(checkpoint.Step, _job.GlobalBatchSize);
        // Steps may have run on while the shards were written: the manifest counts the samples up to its own step.
        var samples = checkpoint.Step * (long)_job.GlobalBatchSize;
        var manifest = new CheckpointManifest
        {
            JobId = _settings.JobId,
            Step = checkpoint.Step,
            WorldSize = data.World.Size,
            Layout = _job.Layout!,
            Shards = checkpoint.Receipts,
            DataEpoch = cursor?.Epoch ?? 0,
            DataPosition = cursor?.Position ?? samples,
            SamplesConsumed = cursor?.SamplesConsumed ?? samples,
            RngSeed = _settings.RngSeed,
            SchedulerStep = checkpoint.Step,
            FrozenParameters = _settings.FrozenParameters,
            ModelConfigHash = _settings.ModelConfigHash,
            GlobalBatchSize = _job.GlobalBatchSize,
            CommittedAt = DateTimeOffset.UtcNow,
        };
        CommitCheckedAsync(manifest).PipeTo(Self,
            success: () => new CheckpointCommitted(checkpoint, manifest),
            failure: e => new CheckpointCommitFailed(checkpoint, e));
    }

    /// <summary>
    /// Commits only a manifest whose every chunk is in the job's store (present, of the recorded size):
    /// a manifest naming shards that went elsewhere would be a checkpoint nobody can restore.
    /// </summary>
    private async Task CommitCheckedAsync(CheckpointManifest manifest)
    {
        var missing = await _store.MissingChunksAsync(manifest).ConfigureAwait(false);
        if (missing.Count > 0)
            throw new InvalidOperationException($"{missing.Count} chunk(s) it names are not in the job's store: {string.Join("; ", missing.Take(3))}" +
                                                (missing.Count > 3 ? "; ..." : ""));
        await _store.CommitAsync(manifest).ConfigureAwait(false);
    }

    private void Committed(CheckpointCommitted c)
    {
        if (_job.Committed is null || c.Manifest.Step >= _job.Committed.Step) _job = _job with { Committed = c.Manifest };
        _observer.OnCheckpoint(c.Manifest.Step, c.Checkpoint.StallSeconds, c.Checkpoint.ElapsedSeconds);
    }

    private void AbandonCheckpoint(RunningData data, string reason)
    {
        var checkpoint = data.Checkpoint!;
        data.Checkpoint = null;
        data.Committing = false;
        _observer.OnMessage($"checkpoint at step {checkpoint.Step} abandoned: {reason}");
        if (checkpoint.Final) { Finish(false, $"the final checkpoint at step {checkpoint.Step} failed: {reason}"); return; }
        if (data.Barrier is null) Continue(data);
    }

    // ---------------------------------------------------------------- Recovering

    private void Recover(string reason, World world, IEnumerable<IActorRef> lost, RunningData? running = null,
        bool countsAsRestart = true, bool listingFallback = false)
    {
        Timers.CancelAll();
        var data = new RecoveringData(world) { ListingFallback = listingFallback };
        if (running?.Checkpoint is { } checkpoint)
        {
            // A commit in flight decides which checkpoint the new world restores: wait for it. Anything earlier is lost.
            if (running.Committing) data.CommitPending = true;
            else _observer.OnMessage($"checkpoint at step {checkpoint.Step} abandoned: world {world.Epoch} is being re-formed");
        }
        DropAll(lost, reason);
        if (countsAsRestart)
        {
            _job = _job with { Restarts = _job.Restarts + 1 };
            if (_policy.GivesUpAfter(_job.Restarts))
            {
                Finish(false, $"gave up after elastic.max_restarts={_settings.MaxRestarts}: {reason}");
                return;
            }
        }
        _observer.OnMessage(countsAsRestart
            ? $"world {world.Epoch} lost: {reason}; recovering (restart {_job.Restarts} of {_settings.MaxRestarts})"
            : reason);
        // Every survivor aborts its collective group (freeing ranks blocked on a dead peer) and
        // acknowledges; a rank that cannot acknowledge in time is as good as dead.
        var abort = new AbortStep(world.Epoch, reason);
        // One probe per process, not per rank: its ranks share the replica channel (thousands of connections otherwise).
        var probed = new HashSet<string>();
        foreach (var rank in world.Ranks.Where(_pool.Contains))
        {
            data.AwaitingAbort.Add(rank);
            rank.Tell(abort);
            // A killed process never acknowledges: its replica channel's refused port says so at once.
            if (_replicaEndpoints.TryGetValue(rank, out var endpoint) && endpoint.Length > 0 && probed.Add(endpoint))
                ProcessProbe.RefusesConnectionsAsync(endpoint).PipeTo(Self, success: refused => new ProcessProbed(world.Epoch, endpoint, refused));
        }
        Timers.StartSingleTimer(AbortTimer, new AbortTimedOut(world.Epoch), _settings.AbortTimeout);
        Become(() => Recovering(data));
        ReformWhenSettled(data);
    }

    private void Recovering(RecoveringData data)
    {
        HolderHandlers();
        var epoch = data.World.Epoch;
        Receive<StepAborted>(a => a.WorldEpoch == epoch, _ => { data.AwaitingAbort.Remove(Sender); ReformWhenSettled(data); });
        Receive<ProcessProbed>(p => p.Epoch == epoch && p.Refused, p =>
        {
            var gone = data.AwaitingAbort.Where(r => _replicaEndpoints.TryGetValue(r, out var e) && e == p.Endpoint).ToArray();
            DropAll(gone, $"its process is gone (its replica channel {p.Endpoint} refuses connections)");
            foreach (var rank in gone) data.AwaitingAbort.Remove(rank);
            ReformWhenSettled(data);
        });
        Receive<AbortTimedOut>(t => t.Epoch == epoch, _ =>
        {
            DropAll(data.AwaitingAbort.ToArray(), $"no answer to the abort within distributed.abort_timeout_sec={_settings.AbortTimeout.TotalSeconds}");
            data.AwaitingAbort.Clear();
            ReformWhenSettled(data);
        });
        Receive<CheckpointCommitted>(c => { Committed(c); data.CommitPending = false; ReformWhenSettled(data); });
        Receive<CheckpointCommitFailed>(f =>
        {
            _observer.OnMessage($"checkpoint at step {f.Checkpoint.Step} abandoned: committing the manifest failed: {f.Error.Message}");
            data.CommitPending = false;
            ReformWhenSettled(data);
        });
        Receive<CommittedListed>(listed =>
        {
            data.ListingFallback = false;
            var older = listed.Committed.Where(m => m.Step < listed.DamagedStep && !_job.Damaged.Contains(m.Step)).MaxBy(m => m.Step);
            if (older is null)
            {
                Finish(false, $"the checkpoint at step {listed.DamagedStep} is damaged and no older committed checkpoint could be used" +
                              (listed.Error is null ? "" : $" ({listed.Error})"));
                return;
            }
            _observer.OnMessage($"checkpoint at step {listed.DamagedStep} is damaged: falling back to the checkpoint at step {older.Step}");
            _job = _job with { Committed = older };
            ReformWhenSettled(data);
        });
        // Copies finished before the failure still count: their reports may arrive during the abort.
        Receive<ShardReplicated>(r => r.WorldEpoch == epoch, r => _replicas.Replicated(new ReplicaStep(r.WorldEpoch, r.Step), r.Rank));
        Receive<RegisterRank>(Register);
        Receive<StoreProof>(p => { Admit(p); });
        Receive<Terminated>(t => { RemoveFromPool(t.ActorRef); data.AwaitingAbort.Remove(t.ActorRef); ReformWhenSettled(data); });
        Receive<ClusterEvent.UnreachableMember>(u => LoseNodeWhileRecovering(data, u.Member.Address, $"node {u.Member.Address} is unreachable"));
        Receive<AssociationErrorEvent>(NodeLoss.ProcessIsGone, e => LoseNodeWhileRecovering(data, e.RemoteAddress, GoneReason(e)));
        Receive<StopJob>(s => { _job = _job with { StopReason = s.Reason }; Finish(false, null); });
        Common(nameof(Recovering));
    }

    private void ReformWhenSettled(RecoveringData data)
    {
        if (!data.Settled) return;
        var (memory, why) = _replicas.RestorePoint(_job.Layout?.Numel ?? 0);
        if (memory is not null && _job.Layout is not null && memory.Step >= _job.CommittedStep)
            _job = _job.RewoundTo(memory);
        else
        {
            if (_settings.ReplicaInterval > 0 && _job.Layout is not null)
                _observer.OnMessage($"no copy in memory to restore ({(memory is null ? why : $"the durable checkpoint at step {_job.CommittedStep} is newer than step {memory.Step}")}): " +
                                    (_job.Committed is { } c ? $"falling back to the durable checkpoint at step {c.Step}" : "restarting from the model's init"));
            _replicas.Forget();
            _job = _job.RolledBack();
        }
        EnterForming();
    }

    private void LoseNodeWhileRecovering(RecoveringData data, Address address, string reason)
    {
        LoseHoldersAt(address, reason);
        var lost = RanksAt(address);
        DropAll(lost, reason);
        foreach (var rank in lost) data.AwaitingAbort.Remove(rank);
        ReformWhenSettled(data);
    }

    // ---------------------------------------------------------------- Done

    private void Finish(bool completed, string? error)
    {
        Timers.CancelAll();
        var hint = completed || _job.Committed is null ? null : _settings.ResumeHint(_job.Committed.Step);
        var data = new DoneData(new JobFinished(_job.Step, completed, hint, error));
        var reason = error ?? (completed ? "the job completed" : $"the job stopped: {_job.StopReason}");
        foreach (var rank in _pool.Members)
        {
            data.Stopping.Add(rank);
            rank.Tell(new LeaveJob(reason));
        }
        // Holders keep nothing the end needs: they are told, not waited for.
        foreach (var holder in _holders.Keys) holder.Tell(new LeaveJob(reason));
        Timers.StartSingleTimer(ShutdownTimer, ShutdownTimedOut.Instance, _settings.ShutdownTimeout);
        Become(() => Done(data));
        if (data.Stopping.Count == 0) Report(data);
    }

    private void Done(DoneData data)
    {
        Receive<Terminated>(t => { if (data.Stopping.Remove(t.ActorRef) && data.Stopping.Count == 0) Report(data); });
        Receive<ShutdownTimedOut>(_ =>
        {
            _log.Warning("{0} ranks did not stop within {1}; reporting the job's end anyway", data.Stopping.Count, _settings.ShutdownTimeout);
            Report(data);
        });
        Receive<AwaitJobFinished>(_ => _awaiters.Add(Sender));
        Receive<RegisterRank>(_ => Sender.Tell(new LeaveJob("the job has finished")));
        Receive<StoreProof>(_ => Sender.Tell(new LeaveJob("the job has finished")));
        Receive<RegisterReplicaHolder>(_ => Sender.Tell(new LeaveJob("the job has finished")));
        // Late step and shard reports of the last world, and commits that finished after the end.
        ReceiveAny(message => _log.Debug("after the job's end: ignored {0} from {1}", message.GetType().Name, Sender));
    }

    private void Report(DoneData data)
    {
        Timers.Cancel(ShutdownTimer);
        _observer.OnJobFinished(data.Finished);
        foreach (var awaiter in _awaiters) awaiter.Tell(data.Finished);
        _awaiters.Clear();
        Context.Stop(Self);
    }

    // ---------------------------------------------------------------- shared handlers

    /// <summary>Joining and Running: newcomers wait in the pool; losing a member of the world re-forms it.</summary>
    private void MembershipHandlers(World world, RunningData? running)
    {
        Receive<RegisterRank>(Register);
        Receive<StoreProof>(p => { Admit(p); });
        Receive<Terminated>(t =>
        {
            if (world.Contains(t.ActorRef)) Recover($"rank {world.RankOf(t.ActorRef)} ({t.ActorRef.Path}) stopped", world, [t.ActorRef], running);
            else RemoveFromPool(t.ActorRef);
        });
        Receive<ClusterEvent.UnreachableMember>(u => LoseNode(world, running, u.Member.Address, $"node {u.Member.Address} is unreachable"));
        Receive<AssociationErrorEvent>(NodeLoss.ProcessIsGone, e => LoseNode(world, running, e.RemoteAddress, GoneReason(e)));
    }

    private void LoseNode(World world, RunningData? running, Address address, string reason)
    {
        LoseHoldersAt(address, reason);
        var lost = RanksAt(address);
        if (lost.Any(world.Contains)) Recover(reason, world, lost, running);
        else DropAll(lost, reason);
    }

    private static string GoneReason(AssociationErrorEvent e) => $"node {e.RemoteAddress} refuses connections (its process is gone)";

    private void Common(string state)
    {
        Receive<AwaitJobFinished>(_ => _awaiters.Add(Sender));
        ReceiveAny(message =>
        {
            // Reports of an aborted world arrive after every abort: expected, and they carry nothing.
            if (EpochOf(message) is { } epoch && epoch <= _job.Epoch)
                _log.Debug("in {0}: ignored {1} of world {2} from {3}", state, message.GetType().Name, epoch, Sender);
            else
                _log.Warning("in {0}: unexpected {1} from {2}: {3}", state, message.GetType().Name, Sender, message);
        });
    }

    private static long? EpochOf(object message) => message switch
    {
        StepDone m => m.WorldEpoch,
        StepsDone m => m.WorldEpoch,
        StepFailed m => m.WorldEpoch,
        StepAborted m => m.WorldEpoch,
        ShardSaved m => m.WorldEpoch,
        ShardSaveFailed m => m.WorldEpoch,
        ShardReplicated m => m.WorldEpoch,
        ShardReplicationFailed m => m.WorldEpoch,
        GroupCreated m => m.WorldEpoch,
        WorldJoined m => m.WorldEpoch,
        JoinFailed m => m.WorldEpoch,
        FormTimedOut m => m.Epoch,
        JoinTimedOut m => m.Epoch,
        StepTimedOut m => m.Epoch,
        AbortTimedOut m => m.Epoch,
        ProcessProbed m => m.Epoch,
        _ => null,
    };

    private void Register(RegisterRank registration)
    {
        if (Refusal(registration) is { } refusal)
        {
            // Told once per attempt; the rank stops and its process reports why.
            _observer.OnMessage($"rank on {registration.Node} device {registration.Device} refused: {refusal}");
            Sender.Tell(new LeaveJob(refusal, Refused: true));
            return;
        }
        // Retries of a registration already admitted cross the first answer.
        if (_pool.Contains(Sender)) Sender.Tell(Registered);
        else Sender.Tell(new ProveStore(_settings.JobId, _record!.Token, _store.Location));
    }

    /// <summary>
    /// A rank showed which store it writes: admitted when it read this incarnation's token, refused otherwise.
    /// A rank whose shards went to another store would make every checkpoint it takes part in unrestorable.
    /// </summary>
    /// <returns>True when the pool grew.</returns>
    private bool Admit(StoreProof proof)
    {
        var registration = proof.Registration;
        if (proof.Token != _record!.Token)
        {
            var what = proof.Error ?? (proof.Token is null ? "holds no record of this job" : "holds another supervisor's token");
            var refusal = $"its checkpoint store is not the job's: the job's store is the {_store.Location}, and this rank's, the {proof.StoreLocation}, {what}. " +
                          "Give `forge node` the seed's store: the same --runs directory, or the same checkpoint.connection_string";
            _observer.OnMessage($"rank on {registration.Node} device {registration.Device} refused: {refusal}");
            Sender.Tell(new LeaveJob(refusal, Refused: true));
            return false;
        }
        var added = _pool.Add(Sender);
        // Before the first world, what the survivors of a previous supervisor hold in memory may spare a rollback.
        if (!_job.Started && registration.Held is { } held) _replicas.Adopt(held);
        if (added)
        {
            Context.Watch(Sender);
            _observer.OnMessage($"rank registered: {registration.Node} device {registration.Device} ({_pool.Count} available)");
        }
        Sender.Tell(Registered);
        return added;
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
        var leave = new LeaveJob($"dropped from the job: {reason}", MayRejoin: true);
        foreach (var rank in ranks.ToArray())
        {
            if (!RemoveFromPool(rank)) continue;
            Context.Unwatch(rank);
            rank.Tell(leave);
        }
    }

    private bool RemoveFromPool(IActorRef rank)
    {
        // A rank that leaves may have gone with its process, and with every copy that process held.
        if (_replicaEndpoints.Remove(rank, out var endpoint)) _replicas.Lose(endpoint);
        return _pool.Remove(rank);
    }

    private IActorRef[] RanksAt(Address address) => _pool.At(address);

    private RankRegistered Registered => new(_settings.JobId, _settings.ReplicaInterval > 0 ? _replicaSecret : null);

    // ---------------------------------------------------------------- memory-only holders

    /// <summary>Forming, Joining, Running and Recovering: holders come and go whatever the world does.</summary>
    private void HolderHandlers()
    {
        Receive<RegisterReplicaHolder>(RegisterHolder);
        // Before the states' own Terminated handlers: a holder is no rank, its loss re-forms no world.
        Receive<Terminated>(t => _holders.ContainsKey(t.ActorRef), t => LoseHolder(t.ActorRef, "it stopped"));
    }

    private void RegisterHolder(RegisterReplicaHolder holder)
    {
        if (holder.JobId != _settings.JobId)
        {
            var refusal = $"its config trains job '{holder.JobId}' but this job is '{_settings.JobId}': start `forge node --memory-only` with the config the seed trains with (same run_name)";
            _observer.OnMessage($"memory-only node {holder.Node} refused: {refusal}");
            Sender.Tell(new LeaveJob(refusal, Refused: true));
            return;
        }
        if (_settings.ReplicaInterval <= 0)
        {
            Sender.Tell(new LeaveJob("this job keeps no buddy replicas (elastic.replica_interval = 0): a memory-only node has nothing to hold", Refused: true));
            return;
        }
        if (_holders.TryAdd(Sender, holder.Endpoint))
        {
            Context.Watch(Sender);
            _observer.OnMessage($"memory-only node registered: {holder.Node}, replica channel {holder.Endpoint} ({_holders.Count} holding copies)");
        }
        // Before the first world, as with a rank's: the copies a previous supervisor's rounds left there may spare a rollback.
        var adopt = !_job.Started && holder.Held is { Copies.Count: > 0 };
        if (adopt) _replicas.Adopt(holder.Held!);
        Sender.Tell(new ReplicaHolderRegistered(_settings.JobId, _replicaSecret, KeepHeld: adopt));
    }

    private void LoseHolder(IActorRef holder, string reason)
    {
        if (!_holders.Remove(holder, out var endpoint)) return;
        Context.Unwatch(holder);
        // Every copy it held went with it; a round it was receiving fails at its sender.
        _replicas.Lose(endpoint);
        _observer.OnMessage($"memory-only node with replica channel {endpoint} lost: {reason}");
    }

    private void LoseHoldersAt(Address address, string reason)
    {
        foreach (var holder in _holders.Keys.Where(h => h.Path.Address.Equals(address)).ToArray()) LoseHolder(holder, reason);
    }

    /// <summary>Each rank's buddy endpoint now (<see cref="ReplicaLedger.Buddies"/>), over the ranks' processes and the live holders.</summary>
    private string?[] BuddiesOf(string[] replicaEndpoints) =>
        _settings.ReplicaInterval > 0 ? ReplicaLedger.Buddies(replicaEndpoints, _holders.Values.Order(StringComparer.Ordinal).ToArray()) : new string?[replicaEndpoints.Length];

    // ---------------------------------------------------------------- state data

    /// <summary>A formed world: its epoch and its ranks, indexed by rank.</summary>
    private sealed record World(long Epoch, IActorRef[] Ranks)
    {
        // Asked once per lost rank: a node's loss asks it for each of its ranks, which a scan made O(W²).
        private readonly Dictionary<IActorRef, int> _rankOf = Ranks.Select((actor, rank) => (actor, rank)).ToDictionary(p => p.actor, p => p.rank);

        public int Size => Ranks.Length;
        public bool Contains(IActorRef rank) => _rankOf.ContainsKey(rank);
        public int RankOf(IActorRef rank) => _rankOf.GetValueOrDefault(rank, -1);
    }

    /// <summary>A world's step relays: each rank's, and each distinct one once (one per process).</summary>
    private sealed class StepRelays(IActorRef[] ofRank)
    {
        public IActorRef[] OfRank { get; } = ofRank;
        public IActorRef[] Processes { get; } = ofRank.Distinct().ToArray();
    }

    private sealed class JoiningData(World world)
    {
        public World World { get; } = world;
        public HashSet<int> Joined { get; } = [];
        /// <summary>Each joined rank's replica endpoint (its process), by rank.</summary>
        public string[] ReplicaEndpoints { get; } = Enumerable.Repeat("", world.Size).ToArray();
        /// <summary>Each joined rank's step relay (its process's rank host, or the rank itself), by rank.</summary>
        public IActorRef[] Relays { get; } = new IActorRef[world.Size];
    }

    private sealed class RunningData(World world)
    {
        public World World { get; } = world;
        /// <summary>The step in flight, or null between a barrier and the next step.</summary>
        public StepBarrier? Barrier { get; set; }
        /// <summary>The checkpoint writing in the background (one at a time), or null.</summary>
        public CheckpointInFlight? Checkpoint { get; set; }
        /// <summary>Every shard of <see cref="Checkpoint"/> is durable and its manifest is being committed.</summary>
        public bool Committing { get; set; }
        /// <summary>A checkpoint fell due while <see cref="Checkpoint"/> was still writing: take it at the next barrier after the commit.</summary>
        public bool CheckpointDeferred { get; set; }
        /// <summary>Each rank's replica endpoint (its process's channel; empty: none), from which each round's buddies are chosen.</summary>
        public required string[] ReplicaEndpoints { get; init; }
        /// <summary>Where the world's steps, snapshots and copies go: one relay per process.</summary>
        public required StepRelays Relays { get; init; }
        /// <summary>A copy fell due while the previous round was on its way: take it at the first step after that round ends.</summary>
        public bool ReplicaDeferred { get; set; }
        /// <summary>This world's first deferred copy was reported.</summary>
        public bool ReplicaDeferralReported { get; set; }
        /// <summary>When the last round of copies began (a Stopwatch timestamp; 0: none yet in this world).</summary>
        public long LastRoundStarted { get; set; }
        /// <summary>The longest capture (time a step was held copying a shard off its device) its ranks reported.</summary>
        public TimeSpan LastCapture { get; set; }
    }

    private sealed class RecoveringData(World world)
    {
        public World World { get; } = world;
        /// <summary>Survivors that have not acknowledged the abort yet.</summary>
        public HashSet<IActorRef> AwaitingAbort { get; } = [];
        /// <summary>A manifest commit was in flight at the failure: its outcome decides what the next world restores.</summary>
        public bool CommitPending { get; set; }
        /// <summary>The store is being listed for a checkpoint older than a damaged one.</summary>
        public bool ListingFallback { get; set; }
        public bool Settled => AwaitingAbort.Count == 0 && !CommitPending && !ListingFallback;
    }

    private sealed class DoneData(JobFinished finished)
    {
        public JobFinished Finished { get; } = finished;
        public HashSet<IActorRef> Stopping { get; } = [];
    }

    // Timer and completion messages: local to this actor, never serialised.
    private sealed record OpeningNote(string Text);
    private sealed record OpeningFailed(Exception Error);
    private sealed record FormTimedOut(long Epoch);
    private sealed record JoinTimedOut(long Epoch);
    private sealed record StepTimedOut(long Epoch, long Step);
    private sealed record AbortTimedOut(long Epoch);
    private sealed record ProcessProbed(long Epoch, string Endpoint, bool Refused);
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
