using ServerlessWs.Core.Redis;
using StackExchange.Redis;

namespace ServerlessWs.Core.Cluster;

/// <summary>The connected-client indexes: kept from <c>ws:events</c>, listed page by page, pruned and repaired.</summary>
public sealed partial class ClusterRegistry
{
    /// <summary>Ids of the connected index that one prune examines; a large fleet is pruned over several runs.</summary>
    public const int PageSize = 1000;

    /// <summary>
    /// Brings the indexes in line with one <c>ws:events</c> record. Idempotent (an event may arrive twice or late):
    /// index changes are set operations checked against the owner hash, and a takeover is counted once per event id.
    /// </summary>
    public async Task ApplyAsync(string eventId, ClusterEvent e)
    {
        switch (e.Type)
        {
            case ClusterEventType.Claimed:
                await IndexIfOwnedAsync(e.ClientId!, e.Server);
                break;
            case ClusterEventType.Takeover:
                await RedisFailures.Guard(Db.SortedSetRemoveAsync(RedisKeys.ServerClients(e.PreviousServer!), e.ClientId), "reconcile");
                await IndexIfOwnedAsync(e.ClientId!, e.Server);
                await CountTakeoverOnceAsync(eventId);
                break;
            case ClusterEventType.Released:
                await UnindexUnlessOwnedAsync(e.ClientId!, e.Server);
                break;
            case ClusterEventType.ServerDown:
                await RedisFailures.Guard(Db.KeyDeleteAsync(RedisKeys.ServerClients(e.Server)), "reconcile");
                break;
        }
    }

    /// <summary>
    /// Connected clients in id order from <paramref name="server"/>'s index (or the whole fleet's), after
    /// <paramref name="after"/>, each with the server its owner hash names now.
    /// </summary>
    public async Task<ClientIndexPage> ListClientsAsync(string? server, string? after, int limit)
    {
        var index = string.IsNullOrEmpty(server) ? RedisKeys.Clients : RedisKeys.ServerClients(server);
        var ids = await RedisFailures.Guard(
            Db.SortedSetRangeByValueAsync(
                index,
                min: string.IsNullOrEmpty(after) ? default : (RedisValue)after,
                exclude: string.IsNullOrEmpty(after) ? Exclude.None : Exclude.Start,
                take: limit + 1),
            "clients");
        var page = ids.Take(limit).Select(id => (string)id!).ToArray();
        var owners = await OwnersAsync(page);
        return new ClientIndexPage(page.Select((id, i) => new IndexedClient(id, owners[i])).ToArray(), ids.Length > limit);
    }

    /// <summary>Removes from <c>ws:clients</c> the ids of its first page whose session is no longer connected.</summary>
    public async Task<int> PruneClientIndexAsync()
    {
        var ids = await RedisFailures.Guard(Db.SortedSetRangeByRankAsync(RedisKeys.Clients, 0, PageSize - 1), "cleanup");
        var owners = await OwnersAsync(ids.Select(id => (string)id!).ToArray());
        var gone = ids.Where((_, i) => owners[i] is null).ToArray();
        return gone.Length == 0 ? 0 : (int)await RedisFailures.Guard(Db.SortedSetRemoveAsync(RedisKeys.Clients, gone), "cleanup");
    }

    /// <summary>Indexes the id under <paramref name="server"/> only if the owner hash still says so (events can arrive late).</summary>
    private async Task IndexIfOwnedAsync(string clientId, string server)
    {
        if (await OwnerAsync(clientId) == server)
        {
            await RedisFailures.Guard(Db.SortedSetAddAsync(RedisKeys.ServerClients(server), clientId, 0), "reconcile");
            await RedisFailures.Guard(Db.SortedSetAddAsync(RedisKeys.Clients, clientId, 0), "reconcile");
        }
    }

    private async Task UnindexUnlessOwnedAsync(string clientId, string server)
    {
        var owner = await OwnerAsync(clientId);
        if (owner != server)
        {
            await RedisFailures.Guard(Db.SortedSetRemoveAsync(RedisKeys.ServerClients(server), clientId), "reconcile");
        }

        if (owner is null)
        {
            await RedisFailures.Guard(Db.SortedSetRemoveAsync(RedisKeys.Clients, clientId), "reconcile");
        }
    }

    private async Task CountTakeoverOnceAsync(string eventId)
    {
        if (await RedisFailures.Guard(Db.StringSetAsync(RedisKeys.Reconciled(eventId), 1, TimeSpan.FromDays(1), When.NotExists), "reconcile"))
        {
            await RedisFailures.Guard(Db.HashIncrementAsync(RedisKeys.Stats, StatsFields.Takeovers), "reconcile");
        }
    }

    /// <summary>The server that holds the id now; null when released or unknown.</summary>
    private async Task<string?> OwnerAsync(string clientId) =>
        (await OwnersAsync([clientId]))[0];

    private async Task<string?[]> OwnersAsync(string[] clientIds)
    {
        var owners = await RedisFailures.Guard(Task.WhenAll(clientIds.Select(id => Db.HashGetAsync(RedisKeys.Owner(id), OwnerFields.Server))), "owners");
        return owners.Select(o => string.IsNullOrEmpty(o) ? null : (string?)o).ToArray();
    }
}

/// <summary>One page of an index: the ids with their owner now (null once released), and whether more follow.</summary>
public sealed record ClientIndexPage(IReadOnlyList<IndexedClient> Items, bool More);

/// <summary>An id of a connected-client index and the server its owner hash names (null once released).</summary>
public sealed record IndexedClient(string ClientId, string? Server);
