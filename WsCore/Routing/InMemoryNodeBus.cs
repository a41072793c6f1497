using System.Collections.Concurrent;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.Core.Routing;

/// <summary>The embedded bus: commands go straight to the subscribed inbox of the named server in this process.</summary>
public sealed class InMemoryNodeBus : INodeBus
{
    private readonly ConcurrentDictionary<string, INodeInbox> _inboxes = new(StringComparer.Ordinal);

    // Group → the listeners of the nodes that hold members of it (guarded by itself).
    private readonly Dictionary<string, List<Func<LogEntry, Task>>> _groups = new(StringComparer.Ordinal);

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

    public async ValueTask RingGroupAsync(LogEntry entry, CancellationToken cancellationToken)
    {
        Func<LogEntry, Task>[] listeners;
        lock (_groups)
        {
            listeners = _groups.TryGetValue(entry.Group!, out var list) ? [.. list] : [];
        }

        foreach (var listener in listeners)
        {
            await listener(entry);
        }
    }

    public ValueTask<IAsyncDisposable> SubscribeGroupAsync(string group, Func<LogEntry, Task> onEntry, CancellationToken cancellationToken)
    {
        lock (_groups)
        {
            if (!_groups.TryGetValue(group, out var list))
            {
                _groups[group] = list = [];
            }

            list.Add(onEntry);
        }

        return ValueTask.FromResult<IAsyncDisposable>(new GroupSubscription(this, group, onEntry));
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

    private sealed class GroupSubscription(InMemoryNodeBus bus, string group, Func<LogEntry, Task> onEntry) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            lock (bus._groups)
            {
                if (bus._groups.TryGetValue(group, out var list) && list.Remove(onEntry) && list.Count == 0)
                {
                    bus._groups.Remove(group);
                }
            }

            return ValueTask.CompletedTask;
        }
    }
}
