using Microsoft.AspNetCore.Mvc;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Redis;
using ServerlessWs.Functions.Admin;
using ServerlessWs.Functions.Reconcile;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Functions.Tests;

/// <summary>
/// Regression (issue 18): the connected-client indexes only ever shrank. Entries were added only by the reconciler
/// on claim and takeover events, events are fire-and-forget, and a re-assert after Redis lost its data wrote none:
/// every re-asserted socket stayed open but missing from the admin list and the stats until it reconnected. Now a
/// re-assert says <c>claimed</c> again, and cleanup re-adds whatever connected session the indexes miss.
/// </summary>
public sealed class IndexHealingTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task AfterRedisRestartsEmptyTheAdminListAndStatsCountEverySocketWithinOneReconcilePeriod()
    {
        var reconcile = new ReconcileOptions { ConsumerName = "test", PollMilliseconds = 1000 };
        await using var f = await FunctionsHarness.StartAsync(reconcile: reconcile);
        await using var a = await WsNode.StartOnRedisAsync(f.Redis, "a", ("Redis:CommandTimeoutMilliseconds", 1000));
        await using var b = await WsNode.StartOnRedisAsync(f.Redis, "b", ("Redis:CommandTimeoutMilliseconds", 1000));
        await using var alice = await TestClient.ConnectAsync(a, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(a, "clientId=bob");
        await using var carol = await TestClient.ConnectAsync(b, "clientId=carol");
        await f.Consumer.StartAsync(None);
        try
        {
            await Eventually.TrueAsync(async () => (await ListedAsync(f)).Count == 3, because: "the index lists the sockets before the restart");

            await f.Redis.RestartAsync(TimeSpan.Zero);

            // The nodes see the connection come back and re-assert (their sockets stay open); then one reconcile period.
            await Eventually.TrueAsync(
                async () => await Probe(() => f.Store.GetSessionAsync("carol", None).AsTask()) is { Server: "b" }
                    && await Probe(() => f.Store.GetSessionAsync("alice", None).AsTask()) is { Server: "a" },
                TimeSpan.FromSeconds(20),
                "the nodes re-asserted their claims");
            var reasserted = DateTime.UtcNow;
            await Eventually.TrueAsync(
                async () => await Probe(() => ListedAsync(f)) is { Count: 3 } && await Probe(() => ConnectionsAsync(f)) == 3,
                TimeSpan.FromMilliseconds(reconcile.PollMilliseconds * 3),
                $"every open socket is listed and counted within one reconcile period of the re-assert (listed: {string.Join(",", await Probe(() => ListedAsync(f)) ?? [])})");
            Assert.True(DateTime.UtcNow - reasserted < TimeSpan.FromSeconds(5));
            Assert.Equal(
                [("alice", "a"), ("bob", "a"), ("carol", "b")],
                (await ListedAsync(f)).Select(c => (c.ClientId, c.Server)));
            await alice.AssertAliveAsync();
        }
        finally
        {
            await f.Consumer.StopAsync(None);
        }
    }

    [Fact]
    public async Task ACleanupPassReAddsAConnectedSessionWhoseEventWasLost()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await using var node = await WsNode.StartOnRedisAsync(f.Redis, "n1");
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        // The claim's event never reached the reconciler (fire-and-forget, or trimmed): the indexes miss alice.
        await f.Db.KeyDeleteAsync(RedisKeys.Events);

        var report = await f.Cleanup.RunOnceAsync(None);

        Assert.Equal(1, report.Repaired);
        Assert.Equal([new ClientListItem("alice", "n1")], await ListedAsync(f));
        Assert.Equal(0, await f.Db.SortedSetScoreAsync(RedisKeys.ServerClients("n1"), "alice"));
        Assert.Equal(1, await ConnectionsAsync(f));
    }

    [Fact]
    public async Task ADeadServersSessionTheIndexMissedIsReleasedAllTheSame()
    {
        await using var f = await FunctionsHarness.StartAsync();
        // Server "crashed" claimed and died before any event was reconciled: no index names the session.
        await f.Store.ClaimAsync("orphan", null, 0, "crashed", None);
        await f.Db.KeyDeleteAsync(RedisKeys.Events);
        await f.Db.SortedSetAddAsync(RedisKeys.Servers, "crashed", 0);

        var report = await f.Cleanup.RunOnceAsync(None);

        Assert.Equal(["crashed"], report.DeadServers);
        Assert.Equal(1, report.Released);
        Assert.Null((await f.Store.GetSessionAsync("orphan", None))!.Server);
        Assert.Empty(await ListedAsync(f));
    }

    private static async Task<IReadOnlyList<ClientListItem>> ListedAsync(FunctionsHarness f) =>
        ((ClientPage)((OkObjectResult)await f.Clients.List(FunctionsHarness.Request("GET"))).Value!).Items;

    private static async Task<long> ConnectionsAsync(FunctionsHarness f) =>
        ((StatsView)((OkObjectResult)await f.Fleet.GetStats(FunctionsHarness.Request("GET"))).Value!).Connections;

    /// <summary>The value, or default while the harness's own connection is still coming back.</summary>
    private static async Task<T?> Probe<T>(Func<Task<T>> read)
    {
        try
        {
            return await read();
        }
        catch (ServerlessWs.Core.Sessions.StoreUnavailableException)
        {
            return default;
        }
    }
}
