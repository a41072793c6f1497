using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using ServerlessWs.Core.Redis;
using ServerlessWs.Core.Telemetry;
using StackExchange.Redis;

namespace ServerlessWs.Functions.Cleanup;

/// <summary>
/// Finds servers whose lease expired (crashed, or cut off) and releases what they still own, each entry only
/// while that server still owns it, so a client that already reconnected elsewhere is never touched. Then drops
/// the server's index and its <c>ws:servers</c> entry and says <c>server-down</c>. Also prunes the connected-clients
/// index of ids that are no longer connected (their sessions expire in Redis by TTL).
/// </summary>
public sealed partial class CleanupStaleEntries(IConnectionMultiplexer redis, RedisSessionStore store, ILogger<CleanupStaleEntries> logger)
{
    // Ids checked per run when pruning the connected-clients index; a large fleet is pruned over several runs.
    private const int PruneBatch = 1000;

    [Function(nameof(CleanupStaleEntries))]
    public async Task Run([TimerTrigger("%Cleanup:Schedule%")] TimerInfo timer, CancellationToken cancellationToken) =>
        await RunOnceAsync(cancellationToken);

    /// <summary>One cleanup pass; returns what it removed.</summary>
    public async Task<CleanupReport> RunOnceAsync(CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var deadServers = new List<string>();
        var released = 0;
        foreach (var server in await db.SortedSetRangeByRankAsync(RedisKeys.Servers))
        {
            var serverId = (string)server!;
            if (await db.KeyExistsAsync(RedisKeys.Lease(serverId)))
            {
                continue;
            }

            var releasedHere = 0;
            foreach (var client in await db.SortedSetRangeByRankAsync(RedisKeys.ServerClients(serverId)))
            {
                if (await store.ReleaseIfOwnedByAsync((string)client!, serverId, cancellationToken) is not null)
                {
                    await db.SortedSetRemoveAsync(RedisKeys.Clients, client);
                    releasedHere++;
                }
            }

            released += releasedHere;
            await db.StreamAddAsync(RedisKeys.Events, [new("type", "server-down"), new("server", serverId)]);
            await db.KeyDeleteAsync(RedisKeys.ServerClients(serverId));
            await db.SortedSetRemoveAsync(RedisKeys.Servers, serverId);
            deadServers.Add(serverId);
            ServerDown(logger, serverId, releasedHere);
        }

        if (released > 0)
        {
            await db.HashIncrementAsync(RedisKeys.Stats, StatsFields.StaleRemoved, released);
            WsMetrics.CleanupRemoved.Add(released);
        }

        return new CleanupReport(deadServers, released, await PruneClientIndexAsync(db));
    }

    private static async Task<int> PruneClientIndexAsync(IDatabase db)
    {
        var pruned = 0;
        var ids = await db.SortedSetRangeByRankAsync(RedisKeys.Clients, 0, PruneBatch - 1);
        var owners = await Task.WhenAll(ids.Select(id => db.HashGetAsync(RedisKeys.Owner((string)id!), "server")));
        for (var i = 0; i < ids.Length; i++)
        {
            if (string.IsNullOrEmpty((string?)owners[i]) && await db.SortedSetRemoveAsync(RedisKeys.Clients, ids[i]))
            {
                pruned++;
            }
        }

        return pruned;
    }

    [LoggerMessage(3100, LogLevel.Information, "Server {ServerId} is down (lease expired); {Released} of its entries released")]
    private static partial void ServerDown(ILogger logger, string serverId, int released);
}

/// <summary>What one cleanup pass did.</summary>
public sealed record CleanupReport(IReadOnlyList<string> DeadServers, int Released, int Pruned);
