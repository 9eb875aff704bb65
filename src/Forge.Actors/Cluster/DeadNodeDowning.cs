using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Remote;
using Forge.Actors.Supervision;
using AkkaCluster = Akka.Cluster.Cluster;

namespace Forge.Actors.Cluster;

/// <summary>
/// Downs a cluster member whose process is gone (its port refuses connections), in every process of
/// the job. The split brain resolver would wait for the failure detector (a 5 s heartbeat pause) and
/// then stable-after; a refused connection is proof enough that no process listens there, so downing
/// it cannot split the cluster. Downing is what lets the supervisor singleton move to the oldest
/// survivor within seconds when the process that hosted it dies.
/// </summary>
/// <remarks>
/// Downing alone is not enough for that: Akka's leader removes a Down member only once it is also
/// unreachable or terminated, so the removal (and with it the singleton's hand-over) would still wait
/// for the failure detector's heartbeat pause. The member is therefore also quarantined by its unique
/// address: the cluster marks a quarantined member terminated at once, and a process that listened
/// there never comes back under the same UID (a restarted node has a new one, and is downed afresh if
/// it too dies).
/// </remarks>
public sealed class DeadNodeDowning : ReceiveActor
{
    private readonly AkkaCluster _cluster = AkkaCluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<UniqueAddress> _downed = [];

    public DeadNodeDowning()
    {
        Receive<AssociationErrorEvent>(NodeLoss.ProcessIsGone, e =>
        {
            var address = e.RemoteAddress;
            if (address.Equals(_cluster.SelfAddress)) return;
            var member = _cluster.State.Members.FirstOrDefault(m => m.Address.Equals(address));
            if (member is null || !_downed.Add(member.UniqueAddress)) return;
            _log.Warning("node {0} refuses connections (its process is gone): downing and quarantining it", address);
            _cluster.Down(address);
            ((IRemoteActorRefProvider)((ExtendedActorSystem)Context.System).Provider).Quarantine(address, member.UniqueAddress.Uid);
        });
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new DeadNodeDowning());

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(AssociationErrorEvent));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
