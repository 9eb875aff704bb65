using Akka.Actor;
using Akka.Cluster;
using Forge.Actors.Supervision;
using AkkaCluster = Akka.Cluster.Cluster;

namespace Forge.Actors.Cluster;

/// <summary>
/// Where the job supervisor singleton may be running: at the oldest members that are up and reachable.
/// Used instead of Akka's ClusterSingletonProxy, which was seen here never to find a singleton that had
/// moved into its own process after the previous host was downed (so that process's ranks never
/// registered again). Registration is idempotent and answered only by the live supervisor, so asking
/// the two oldest candidates covers a hand-over in progress at a bounded cost.
/// </summary>
public static class SupervisorLocator
{
    private const int Candidates = 2;

    /// <summary>The supervisor's path on each candidate member, oldest first.</summary>
    public static Func<IReadOnlyList<string>> For(ActorSystem system)
    {
        var cluster = AkkaCluster.Get(system);
        return () =>
        {
            var state = cluster.State;
            var unreachable = state.Unreachable;
            return state.Members
                .Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp && !unreachable.Contains(m))
                .OrderBy(m => m, Member.AgeOrdering)
                .Take(Candidates)
                .Select(m => PathAt(m.Address))
                .ToArray();
        };
    }

    public static string PathAt(Address address) => $"{address}/user/{JobSupervisor.Name}/singleton";
}
