using System.Collections.Concurrent;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.Core.Routing;

/// <summary>The embedded bus: commands go straight to the subscribed inbox of the named server in this process.</summary>
public sealed class InMemoryNodeBus : INodeBus
{
    private readonly ConcurrentDictionary<string, INodeInbox> _inboxes = new(StringComparer.Ordinal);

    public ValueTask DeliverAsync(string serverId, string clientId, LogEntry entry, CancellationToken cancellationToken)
    {
        if (_inboxes.TryGetValue(serverId, out var inbox))
        {
            inbox.OnDeliver(clientId, entry);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask KickAsync(string serverId, string clientId, long maxEpoch, int closeCode, CancellationToken cancellationToken)
    {
        if (_inboxes.TryGetValue(serverId, out var inbox))
        {
            inbox.OnKick(clientId, maxEpoch, closeCode);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<IAsyncDisposable> SubscribeAsync(string serverId, INodeInbox inbox, CancellationToken cancellationToken)
    {
        if (!_inboxes.TryAdd(serverId, inbox))
        {
            throw new InvalidOperationException($"Server '{serverId}' is already subscribed.");
        }

        return ValueTask.FromResult<IAsyncDisposable>(new Subscription(this, serverId, inbox));
    }

    private sealed class Subscription(InMemoryNodeBus bus, string serverId, INodeInbox inbox) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            bus._inboxes.TryRemove(KeyValuePair.Create(serverId, inbox));
            return ValueTask.CompletedTask;
        }
    }
}
