using Akka.Actor;

namespace Forge.Actors.Supervision;

/// <summary>
/// The supervisor's registered live ranks, in registration order (a world is formed from the first of them),
/// with membership and removal in constant time. A node's loss removes all of its ranks at once: removing
/// each from a list was O(W) per rank, O(W²) per lost node (seconds at thousands of ranks).
/// </summary>
internal sealed class RankPool
{
    private readonly LinkedList<IActorRef> _order = new();
    private readonly Dictionary<IActorRef, LinkedListNode<IActorRef>> _nodes = new();

    public int Count => _nodes.Count;

    public bool Contains(IActorRef rank) => _nodes.ContainsKey(rank);

    /// <summary>Adds `rank` after every rank registered before it; false when it is a member already.</summary>
    public bool Add(IActorRef rank)
    {
        if (_nodes.ContainsKey(rank)) return false;
        _nodes[rank] = _order.AddLast(rank);
        return true;
    }

    /// <summary>False when `rank` was not a member.</summary>
    public bool Remove(IActorRef rank)
    {
        if (!_nodes.Remove(rank, out var node)) return false;
        _order.Remove(node);
        return true;
    }

    /// <summary>The `count` longest-registered ranks, oldest first.</summary>
    public IActorRef[] First(int count) => _order.Take(count).ToArray();

    /// <summary>The members whose actors live at `address` (one process), in registration order.</summary>
    public IActorRef[] At(Address address) => _order.Where(r => r.Path.Address.Equals(address)).ToArray();

    /// <summary>Every member, in registration order.</summary>
    public IReadOnlyCollection<IActorRef> Members => _order;
}
