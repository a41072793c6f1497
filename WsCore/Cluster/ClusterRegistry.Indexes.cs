using System.Collections.Concurrent;
using ServerlessWs.Core.Redis;
using StackExchange.Redis;

namespace ServerlessWs.Core.Cluster;

/// <summary>The connected-client indexes: kept from <c>ws:events</c>, listed page by page, pruned and repaired.</summary>
public sealed partial class ClusterRegistry
{
    /// <summary>Takeover event ids kept in <c>ws:reconciled</c> to count a redelivered one once (far more than are ever pending).</summary>
    public const int ReconciledKept = 10_000;

    /// <summary>Ids (or keys) read per round trip when walking an index or the keyspace.</summary>
    public const int PageSize = 1000;

    // SCAN cursor of the index repair per Redis primary: a pass resumes where the previous one stopped.
    private readonly ConcurrentDictionary<string, string> _repairCursors = new(StringComparer.Ordinal);

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
                await RedisFailures.Guard(() => Db.SortedSetRemoveAsync(RedisKeys.ServerClients(e.PreviousServer!), e.ClientId), "reconcile");
                await IndexIfOwnedAsync(e.ClientId!, e.Server);
                await CountTakeoverOnceAsync(eventId);
                break;
            case ClusterEventType.Released:
                await UnindexUnlessOwnedAsync(e.ClientId!, e.Server);
                break;
            case ClusterEventType.ServerDown:
                await RedisFailures.Guard(() => Db.KeyDeleteAsync(RedisKeys.ServerClients(e.Server)), "reconcile");
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
        var ids = await RedisFailures.Guard(() =>
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

    /// <summary>
    /// Removes from <c>ws:clients</c> every id whose session is no longer connected (released, or expired), walking
    /// the whole index a page at a time. Returns how many were removed.
    /// </summary>
    public async Task<int> PruneClientIndexAsync()
    {
        var pruned = 0;
        RedisValue after = default;
        while (true)
        {
            var ids = await RedisFailures.Guard(() =>
                Db.SortedSetRangeByValueAsync(RedisKeys.Clients, min: after, exclude: after.IsNull ? Exclude.None : Exclude.Start, take: PageSize),
                "cleanup");
            if (ids.Length == 0)
            {
                return pruned;
            }

            var owners = await OwnersAsync(ids.Select(id => (string)id!).ToArray());
            var gone = ids.Where((_, i) => owners[i] is null).ToArray();
            if (gone.Length > 0)
            {
                pruned += (int)await RedisFailures.Guard(() => Db.SortedSetRemoveAsync(RedisKeys.Clients, gone), "cleanup");
            }

            if (ids.Length < PageSize)
            {
                return pruned;
            }

            // The cursor is the last id read, not a rank: removals behind it do not make the walk skip anyone.
            after = ids[^1];
        }
    }

    /// <summary>
    /// Re-adds to the indexes every connected session they miss (an event lost on the way, or a store that restarted
    /// empty): walks the owner hashes with SCAN, at most <paramref name="maxKeys"/> keys per Redis primary per call,
    /// resuming where the previous call stopped, so a large fleet is covered over several calls at a bounded cost
    /// each. An id is indexed under whatever server its owner hash names, a dead one too: cleanup then releases it.
    /// Returns how many index entries were added.
    /// </summary>
    public async Task<int> RepairIndexesAsync(int maxKeys)
    {
        var added = 0;
        foreach (var server in redis.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            var endpoint = server.EndPoint.ToString() ?? "?";
            var cursor = _repairCursors.GetValueOrDefault(endpoint, "0");
            // SCAN's COUNT is how many keys one call examines (matching or not): the budget counts those.
            var count = Math.Min(PageSize, maxKeys);
            for (var examined = 0; examined < maxKeys; examined += count)
            {
                var reply = (RedisResult[])(await RedisFailures.Guard(() =>
                    server.ExecuteAsync("SCAN", cursor, "MATCH", RedisKeys.OwnerPattern, "COUNT", count), "repair"))!;
                cursor = (string)reply[0]!;
                var ids = ((RedisResult[])reply[1]!).Select(key => RedisKeys.ClientIdOfOwner((string)key!)).OfType<string>().ToArray();
                added += await IndexMissingAsync(ids);
                if (cursor == "0")
                {
                    break;
                }
            }

            _repairCursors[endpoint] = cursor;
        }

        return added;
    }

    /// <summary>Adds each of <paramref name="ids"/> whose session is connected to the indexes it is missing from.</summary>
    private async Task<int> IndexMissingAsync(string[] ids)
    {
        if (ids.Length == 0)
        {
            return 0;
        }

        var owners = await OwnersAsync(ids);
        var scores = await RedisFailures.Guard(() => Db.SortedSetScoresAsync(RedisKeys.Clients, ids.Select(id => (RedisValue)id).ToArray()), "repair");
        var added = new List<(string ClientId, string Server)>();
        for (var i = 0; i < ids.Length; i++)
        {
            if (owners[i] is not { } owner)
            {
                continue;
            }

            // Per server too: an id missing from ws:clients is most likely missing from its server's index as well.
            if (scores[i] is null || await RedisFailures.Guard(() => Db.SortedSetScoreAsync(RedisKeys.ServerClients(owner), ids[i]), "repair") is null)
            {
                await RedisFailures.Guard(() => Db.SortedSetAddAsync(RedisKeys.ServerClients(owner), ids[i], 0), "repair");
                await RedisFailures.Guard(() => Db.SortedSetAddAsync(RedisKeys.Clients, ids[i], 0), "repair");
                added.Add((ids[i], owner));
            }
        }

        // The repair runs beside the reconciler: an id that moved after its owner was read above may have been
        // unindexed from the old server already, and just indexed there again here. Read again and take back what
        // no longer holds; a move after this read writes its own event, which the reconciler applies after this.
        var now = await OwnersAsync([.. added.Select(a => a.ClientId)]);
        for (var i = 0; i < added.Count; i++)
        {
            if (now[i] != added[i].Server)
            {
                await RedisFailures.Guard(() => Db.SortedSetRemoveAsync(RedisKeys.ServerClients(added[i].Server), added[i].ClientId), "repair");
            }
        }

        return added.Where((a, i) => now[i] == a.Server).Count();
    }

    /// <summary>Indexes the id under <paramref name="server"/> only if the owner hash still says so (events can arrive late).</summary>
    private async Task IndexIfOwnedAsync(string clientId, string server)
    {
        if (await OwnerAsync(clientId) == server)
        {
            await RedisFailures.Guard(() => Db.SortedSetAddAsync(RedisKeys.ServerClients(server), clientId, 0), "reconcile");
            await RedisFailures.Guard(() => Db.SortedSetAddAsync(RedisKeys.Clients, clientId, 0), "reconcile");
        }
    }

    private async Task UnindexUnlessOwnedAsync(string clientId, string server)
    {
        var owner = await OwnerAsync(clientId);
        if (owner != server)
        {
            await RedisFailures.Guard(() => Db.SortedSetRemoveAsync(RedisKeys.ServerClients(server), clientId), "reconcile");
        }

        if (owner is null)
        {
            await RedisFailures.Guard(() => Db.SortedSetRemoveAsync(RedisKeys.Clients, clientId), "reconcile");
        }
    }

    /// <summary>
    /// Counts a takeover once however often its event is delivered: its id goes into one sorted set capped at
    /// <see cref="ReconciledKept"/> entries, not a key per event (a client that takes itself over on every connect
    /// must not grow Redis).
    /// </summary>
    private async Task CountTakeoverOnceAsync(string eventId)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (await RedisFailures.Guard(() => Db.SortedSetAddAsync(RedisKeys.Reconciled, eventId, now, SortedSetWhen.NotExists), "reconcile"))
        {
            await RedisFailures.Guard(() => Db.HashIncrementAsync(RedisKeys.Stats, StatsFields.Takeovers), "reconcile");
            await RedisFailures.Guard(() => Db.SortedSetRemoveRangeByRankAsync(RedisKeys.Reconciled, 0, -(ReconciledKept + 1)), "reconcile");
        }
    }

    /// <summary>The server that holds the id now; null when released or unknown.</summary>
    private async Task<string?> OwnerAsync(string clientId) =>
        (await OwnersAsync([clientId]))[0];

    private async Task<string?[]> OwnersAsync(string[] clientIds)
    {
        var owners = await RedisFailures.Guard(() => Task.WhenAll(clientIds.Select(id => Db.HashGetAsync(RedisKeys.Owner(id), OwnerFields.Server))), "owners");
        return owners.Select(o => string.IsNullOrEmpty(o) ? null : (string?)o).ToArray();
    }
}

/// <summary>One page of an index: the ids with their owner now (null once released), and whether more follow.</summary>
public sealed record ClientIndexPage(IReadOnlyList<IndexedClient> Items, bool More);

/// <summary>An id of a connected-client index and the server its owner hash names (null once released).</summary>
public sealed record IndexedClient(string ClientId, string? Server);
