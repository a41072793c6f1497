using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using ServerlessWs.Core.Redis;
using StackExchange.Redis;

namespace ServerlessWs.Functions.Admin;

/// <summary>Admin routes on the fleet: live servers and totals (docs/protocol.md §6).</summary>
public sealed class FleetApi(IConnectionMultiplexer redis, TimeProvider time)
{
    [Function("ListServers")]
    public async Task<IActionResult> ListServers(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "servers")] HttpRequest request) =>
        new OkObjectResult(await LiveServersAsync());

    [Function("GetStats")]
    public async Task<IActionResult> GetStats(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "stats")] HttpRequest request)
    {
        var db = redis.GetDatabase();
        var counters = (await db.HashGetAllAsync(RedisKeys.Stats)).ToDictionary(e => (string)e.Name!, e => (long)e.Value);
        return new OkObjectResult(new StatsView(
            (await LiveServersAsync()).Count,
            await db.SortedSetLengthAsync(RedisKeys.Clients),
            counters.GetValueOrDefault(StatsFields.MessagesRouted),
            counters.GetValueOrDefault(StatsFields.Takeovers),
            counters.GetValueOrDefault(StatsFields.StaleRemoved)));
    }

    private async Task<IReadOnlyList<ServerView>> LiveServersAsync()
    {
        var db = redis.GetDatabase();
        var now = time.GetUtcNow();
        var servers = new List<ServerView>();
        foreach (var server in await db.SortedSetRangeByRankAsync(RedisKeys.Servers))
        {
            var id = (string)server!;
            if (await db.KeyTimeToLiveAsync(RedisKeys.Lease(id)) is { } ttl)
            {
                servers.Add(new ServerView(id, await db.SortedSetLengthAsync(RedisKeys.ServerClients(id)), now + ttl));
            }
        }

        return servers;
    }
}
