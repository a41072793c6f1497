using ServerlessWs.Core.Redis;
using ServerlessWs.Core.Sessions;
using StackExchange.Redis;

namespace ServerlessWs.Core.Cluster;

/// <summary>
/// The cluster's shared state beside the sessions: server leases and <c>ws:servers</c>, the connected-client indexes
/// (<c>ws:clients</c>, <c>ws:{s:id}:clients</c>), the <c>ws:stats</c> counters, and the release of a dead server's
/// clients. WsApp keeps its lease through it; WsFunctions reconciles, cleans up and answers the admin API through
/// it; neither spells a key. Every call throws <see cref="StoreUnavailableException"/> when Redis cannot be reached.
/// The indexes may lag (docs/design.md invariant 5); the owner hashes, read through the session store, decide.
/// </summary>
public sealed partial class ClusterRegistry(IConnectionMultiplexer redis, RedisSessionStore sessions, TimeProvider time)
{
    private IDatabase Db => redis.GetDatabase();

    /// <summary>
    /// Writes <paramref name="serverId"/>'s lease for <paramref name="ttl"/> and its <c>ws:servers</c> entry, and adds
    /// the node's share of the routed-message counter: one round trip per renewal, not one write per message.
    /// </summary>
    public async Task RenewLeaseAsync(string serverId, TimeSpan ttl, long messagesRouted)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await RedisFailures.Guard(
            () =>
            {
                var batch = Db.CreateBatch();
                var lease = batch.StringSetAsync(RedisKeys.Lease(serverId), now, ttl);
                var index = batch.SortedSetAddAsync(RedisKeys.Servers, serverId, now);
                var stats = batch.HashIncrementAsync(RedisKeys.Stats, StatsFields.MessagesRouted, messagesRouted);
                batch.Execute();
                return Task.WhenAll(lease, index, stats);
            },
            "lease");
    }

    /// <summary>Drops the lease and the <c>ws:servers</c> entry on a graceful stop, so cleanup need not wait for the TTL.</summary>
    public async Task DropLeaseAsync(string serverId)
    {
        await RedisFailures.Guard(() => Db.KeyDeleteAsync(RedisKeys.Lease(serverId)), "lease");
        await RedisFailures.Guard(() => Db.SortedSetRemoveAsync(RedisKeys.Servers, serverId), "lease");
    }

    /// <summary>Adds to the shared count of messages appended to recipients' logs (<c>ws:stats</c>).</summary>
    public Task AddMessagesRoutedAsync(long count) =>
        count == 0 ? Task.CompletedTask : RedisFailures.Guard(() => Db.HashIncrementAsync(RedisKeys.Stats, StatsFields.MessagesRouted, count), "stats");

    /// <summary>The servers whose lease lives, with the connections their index gives them.</summary>
    public async Task<IReadOnlyList<LiveServer>> LiveServersAsync()
    {
        var now = time.GetUtcNow();
        var servers = new List<LiveServer>();
        foreach (var server in await RedisFailures.Guard(() => Db.SortedSetRangeByRankAsync(RedisKeys.Servers), "servers"))
        {
            var id = (string)server!;
            if (await RedisFailures.Guard(() => Db.KeyTimeToLiveAsync(RedisKeys.Lease(id)), "servers") is { } ttl)
            {
                servers.Add(new LiveServer(id, await RedisFailures.Guard(() => Db.SortedSetLengthAsync(RedisKeys.ServerClients(id)), "servers"), now + ttl));
            }
        }

        return servers;
    }

    /// <summary>How many clients the connected index lists.</summary>
    public Task<long> ConnectedCountAsync() => RedisFailures.Guard(() => Db.SortedSetLengthAsync(RedisKeys.Clients), "stats");

    /// <summary>The counters and the connected count, for the admin API.</summary>
    public async Task<ClusterStats> GetStatsAsync()
    {
        var counters = (await RedisFailures.Guard(() => Db.HashGetAllAsync(RedisKeys.Stats), "stats")).ToDictionary(e => (string)e.Name!, e => (long)e.Value);
        return new ClusterStats(
            await ConnectedCountAsync(),
            counters.GetValueOrDefault(StatsFields.MessagesRouted),
            counters.GetValueOrDefault(StatsFields.Takeovers),
            counters.GetValueOrDefault(StatsFields.StaleRemoved));
    }

    /// <summary>Servers listed in <c>ws:servers</c> whose lease is gone (crashed, or cut off).</summary>
    public async Task<IReadOnlyList<string>> DeadServersAsync()
    {
        var dead = new List<string>();
        foreach (var server in await RedisFailures.Guard(() => Db.SortedSetRangeByRankAsync(RedisKeys.Servers), "servers"))
        {
            var id = (string)server!;
            if (!await RedisFailures.Guard(() => Db.KeyExistsAsync(RedisKeys.Lease(id)), "servers"))
            {
                dead.Add(id);
            }
        }

        return dead;
    }

    /// <summary>
    /// Releases what a dead server still owns, each id only while that server still owns it (so a client that already
    /// reconnected elsewhere is never touched), saying <c>released</c> for each, then says <c>server-down</c> and drops the server's index and its
    /// <c>ws:servers</c> entry. Returns how many ids were released (also added to <c>staleRemoved</c>).
    /// </summary>
    public async Task<int> ReleaseDeadServerAsync(string serverId, CancellationToken cancellationToken)
    {
        var released = 0;
        foreach (var client in await RedisFailures.Guard(() => Db.SortedSetRangeByRankAsync(RedisKeys.ServerClients(serverId)), "cleanup"))
        {
            if (await sessions.ReleaseIfOwnedByAsync((string)client!, serverId, cancellationToken) is { } epoch)
            {
                // Said per client as a node's own release says it: the upstream dispatcher's `disconnected` reads it.
                await RedisFailures.Guard(() => ClusterEventCodec.AppendAsync(Db, ClusterEvent.Released((string)client!, serverId, epoch)), "cleanup");
                await RedisFailures.Guard(() => Db.SortedSetRemoveAsync(RedisKeys.Clients, client), "cleanup");
                released++;
            }
        }

        await RedisFailures.Guard(() => ClusterEventCodec.AppendAsync(Db, ClusterEvent.ServerDown(serverId)), "cleanup");
        await RedisFailures.Guard(() => Db.KeyDeleteAsync(RedisKeys.ServerClients(serverId)), "cleanup");
        await RedisFailures.Guard(() => Db.SortedSetRemoveAsync(RedisKeys.Servers, serverId), "cleanup");
        if (released > 0)
        {
            await RedisFailures.Guard(() => Db.HashIncrementAsync(RedisKeys.Stats, StatsFields.StaleRemoved, released), "cleanup");
        }

        return released;
    }
}

/// <summary>A server whose lease lives: its id, the connections its index lists, and when the lease runs out.</summary>
public sealed record LiveServer(string Id, long Connections, DateTimeOffset LeaseExpiresAt);

/// <summary>The <c>ws:stats</c> counters and the connected count.</summary>
public sealed record ClusterStats(long ConnectedClients, long MessagesRouted, long Takeovers, long StaleRemoved);
