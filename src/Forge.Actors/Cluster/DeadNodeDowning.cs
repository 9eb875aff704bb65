using Akka.Actor;
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
public sealed class DeadNodeDowning : ReceiveActor
{
    private readonly AkkaCluster _cluster = AkkaCluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<Address> _downed = [];

    public DeadNodeDowning()
    {
        Receive<AssociationErrorEvent>(NodeLoss.ProcessIsGone, e =>
        {
            var address = e.RemoteAddress;
            if (address.Equals(_cluster.SelfAddress) || !_downed.Add(address)) return;
            if (!_cluster.State.Members.Any(m => m.Address.Equals(address))) return;
            _log.Warning("node {0} refuses connections (its process is gone): downing it", address);
            _cluster.Down(address);
        });
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new DeadNodeDowning());

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(AssociationErrorEvent));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
