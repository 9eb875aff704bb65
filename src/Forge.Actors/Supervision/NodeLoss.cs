using Akka.Remote;

namespace Forge.Actors.Supervision;

/// <summary>How a process of the job tells that another one is gone, not merely slow.</summary>
public static class NodeLoss
{
    /// <summary>
    /// True when remoting could not reach a node because nothing listens on its port any more: its process
    /// is gone (killed, crashed), so its ranks are lost now, and it can be downed at once. This is seconds
    /// sooner than the failure detector, whose 5 s heartbeat pause exists because a training step may keep
    /// every core busy. A slow or partitioned node times out instead, and is left to the failure detector
    /// and the split brain resolver.
    /// </summary>
    public static bool ProcessIsGone(AssociationErrorEvent e)
    {
        for (var cause = e.Cause; cause is not null; cause = cause.InnerException)
        {
            if (cause is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused }) return true;
            if (cause.Message.Contains("Connection refused", StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }
}
