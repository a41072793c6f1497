using ServerlessWs.Core.Sessions;

namespace ServerlessWs.Core.Routing;

/// <summary>
/// Commands for the node that holds a client's socket: the doorbell after a log append, and kicks. Delivery is
/// best effort by design: the log is the record (docs/design.md invariant 3), so a lost doorbell is repaired by the
/// next one (gap fill) or by a resume.
/// </summary>
public interface INodeBus
{
    /// <summary>Tells <paramref name="serverId"/> that <paramref name="entry"/> was appended to <paramref name="clientId"/>'s log.</summary>
    ValueTask DeliverAsync(string serverId, string clientId, LogEntry entry, CancellationToken cancellationToken);

    /// <summary>
    /// Tells <paramref name="serverId"/> to close <paramref name="clientId"/>'s socket with <paramref name="closeCode"/>
    /// if that socket's epoch is at most <paramref name="maxEpoch"/> (a newer claim is never kicked by an older one).
    /// </summary>
    ValueTask KickAsync(string serverId, string clientId, long maxEpoch, int closeCode, CancellationToken cancellationToken);

    /// <summary>Starts receiving this server's commands; dispose to stop.</summary>
    ValueTask<IAsyncDisposable> SubscribeAsync(string serverId, INodeInbox inbox, CancellationToken cancellationToken);

    /// <summary>
    /// Rings the nodes that hold members of <paramref name="entry"/>'s group: one doorbell per group message, heard by
    /// each subscribed node once, whatever the member count (docs/protocol.md §5b).
    /// </summary>
    ValueTask RingGroupAsync(LogEntry entry, CancellationToken cancellationToken);

    /// <summary>
    /// Starts hearing <paramref name="group"/>'s doorbells; the subscription is in place when the returned task
    /// completes, so a message appended after that rings it. Dispose to stop. Doorbells may come out of gseq order
    /// (two senders) or not at all: the listener fills gaps from the group's log.
    /// </summary>
    ValueTask<IAsyncDisposable> SubscribeGroupAsync(string group, Func<LogEntry, Task> onEntry, CancellationToken cancellationToken);
}

/// <summary>What a node does with the commands sent to it.</summary>
public interface INodeInbox
{
    void OnDeliver(string clientId, LogEntry entry);

    void OnKick(string clientId, long maxEpoch, int closeCode);
}
