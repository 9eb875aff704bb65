using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;
using Forge.Actors.Protocol;

namespace Forge.Host.Benchmarks;

/// <summary>
/// The supervisor's step messages in `forge bench supervisor`, counted where they arrive, by (world, step): the
/// step results at the supervisor's mailbox (a <see cref="StepDone"/> from a rank, a <see cref="StepsDone"/> from a
/// process's relay), and the steps at each process's <c>RankHost</c>, which receives the supervisor's one
/// <see cref="RunStep"/> per process (the copies it forwards to its ranks are not the supervisor's sends). A child
/// process's steps reach the benchmark in its step-marks lines (<see cref="StepMarks"/>).
/// </summary>
internal static class StepMessageCount
{
    private static readonly ConcurrentDictionary<(long Epoch, long Step), int> ResultsIn = new();
    private static readonly ConcurrentDictionary<(long Epoch, long Step), int> StepsOut = new();

    /// <summary>The mailboxes that count, by actor path: the supervisor (alone, or as the cluster singleton) and the rank hosts.</summary>
    public static Config Mailboxes { get; } = ConfigurationFactory.ParseString($$"""
        forge-bench-supervisor-mailbox.mailbox-type = "{{typeof(SupervisorMailbox).AssemblyQualifiedName}}"
        forge-bench-relay-mailbox.mailbox-type = "{{typeof(RelayMailbox).AssemblyQualifiedName}}"
        akka.actor.deployment {
          "/job-supervisor".mailbox = forge-bench-supervisor-mailbox
          "/job-supervisor/singleton".mailbox = forge-bench-supervisor-mailbox
          "/ranks".mailbox = forge-bench-relay-mailbox
        }
        """);

    /// <summary>A new world size counts afresh (its worlds number from 1 again).</summary>
    public static void Reset()
    {
        ResultsIn.Clear();
        StepsOut.Clear();
    }

    public static int In(long epoch, long step) => ResultsIn.GetValueOrDefault((epoch, step));
    public static int Out(long epoch, long step) => StepsOut.GetValueOrDefault((epoch, step));
    public static void AddOut(long epoch, long step, int count) => StepsOut.AddOrUpdate((epoch, step), count, (_, n) => n + count);

    private static void Count(ConcurrentDictionary<(long, long), int> counts, long epoch, long step) =>
        counts.AddOrUpdate((epoch, step), 1, (_, n) => n + 1);

    /// <summary>Akka's unbounded deque mailbox (the supervisor stashes), counting the step results it is given.</summary>
    public sealed class SupervisorMailbox(Settings settings, Config config) : MailboxType(settings, config), IProducesMessageQueue<CountingQueue>
    {
        public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new CountingQueue(message =>
        {
            if (message is StepDone done) Count(ResultsIn, done.WorldEpoch, done.Result.Step);
            else if (message is StepsDone all) Count(ResultsIn, all.WorldEpoch, all.Step);
        });
    }

    /// <summary>The same mailbox for a rank host, counting the steps it is given.</summary>
    public sealed class RelayMailbox(Settings settings, Config config) : MailboxType(settings, config), IProducesMessageQueue<CountingQueue>
    {
        public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new CountingQueue(message =>
        {
            if (message is RunStep run) Count(StepsOut, run.WorldEpoch, run.Step);
        });
    }

    /// <summary>Counts what is sent to the actor; messages it unstashes go to the front of the deque and are not counted again.</summary>
    public sealed class CountingQueue(Action<object> count)
        : DequeWrapperMessageQueue(new Counted(count)), IUnboundedDequeBasedMessageQueueSemantics;

    private sealed class Counted(Action<object> count) : IMessageQueue, IUnboundedMessageQueueSemantics
    {
        private readonly UnboundedMessageQueue _queue = new();

        public bool HasMessages => _queue.HasMessages;
        public int Count => _queue.Count;

        public void Enqueue(IActorRef receiver, Envelope envelope)
        {
            count(envelope.Message);
            _queue.Enqueue(receiver, envelope);
        }

        public bool TryDequeue(out Envelope envelope) => _queue.TryDequeue(out envelope);
        public void CleanUp(IActorRef owner, IMessageQueue deadletters) => _queue.CleanUp(owner, deadletters);
    }
}
