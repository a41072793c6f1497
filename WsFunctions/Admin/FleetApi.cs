using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using ServerlessWs.Core.Cluster;

namespace ServerlessWs.Functions.Admin;

/// <summary>Admin routes on the fleet: live servers and totals (docs/protocol.md §6).</summary>
public sealed class FleetApi(ClusterRegistry registry)
{
    [Function("ListServers")]
    public async Task<IActionResult> ListServers(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "servers")] HttpRequest request) =>
        new OkObjectResult((await registry.LiveServersAsync()).Select(s => new ServerView(s.Id, s.Connections, s.LeaseExpiresAt)).ToArray());

    [Function("GetStats")]
    public async Task<IActionResult> GetStats(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "stats")] HttpRequest request)
    {
        var stats = await registry.GetStatsAsync();
        return new OkObjectResult(new StatsView(
            (await registry.LiveServersAsync()).Count,
            stats.ConnectedClients,
            stats.MessagesRouted,
            stats.Takeovers,
            stats.StaleRemoved));
    }
}
